/**
 * Refresh tokens for the client credentials grant, a per-client opt-in (RFC 6749 §4.4.3 says
 * not to issue them by default). Opaque, 256-bit, stored only as SHA-256 hashes, single use with
 * rotation on every use; presenting a used one revokes its whole chain (OAuth 2.0 Security BCP
 * §4.14.2). A chain also ends with its lifetime, the client's deactivation, or a completed secret
 * rotation (each token remembers the secret it was issued under).
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { ClientRecord } from "../clients/client.js";
import { TesseraError } from "../errors.js";

export const REFRESH_TOKEN_PREFIX = "rt_";

export interface StoredRefreshToken {
  readonly id: string;
  readonly hash: string;
  readonly clientId: string;
  readonly chainId: string;
  readonly scopes: readonly string[];
  readonly audiences: readonly string[];
  readonly secretHash: string;
  readonly createTime: Date;
  readonly expireTime: Date;
  readonly useTime: Date | null;
}

export interface RefreshTokenRepository {
  saveRefreshToken(token: StoredRefreshToken): Promise<void>;
  findRefreshToken(hash: string): Promise<StoredRefreshToken | undefined>;
  /** Marks `usedId` used and stores `successor`, atomically; false if it was already used. */
  exchangeRefreshToken(input: { usedId: string; successor: StoredRefreshToken; now: Date }): Promise<boolean>;
  /** Marks every unused token of the chain used. */
  revokeRefreshTokenChain(chainId: string, now: Date): Promise<void>;
}

export function hashRefreshToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

function currentSecretHash(record: ClientRecord): string {
  return record.secrets.find((secret) => secret.slot === "current")?.hash ?? "";
}

const invalidGrant = (description: string) => new TesseraError("invalid_grant", description);

export class RefreshTokens {
  constructor(
    private readonly options: {
      repository: RefreshTokenRepository;
      lifetimeSeconds: number;
      now: () => Date;
    },
  ) {}

  /** A new token, starting a chain or continuing one. Returns the plaintext, shown once. */
  private mint(record: ClientRecord, grant: { scopes: readonly string[]; audiences: readonly string[]; chainId: string }) {
    const token = `${REFRESH_TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
    const now = this.options.now();
    const stored: StoredRefreshToken = {
      id: randomUUID(),
      hash: hashRefreshToken(token),
      clientId: record.client.id,
      chainId: grant.chainId,
      scopes: [...grant.scopes],
      audiences: [...grant.audiences],
      secretHash: currentSecretHash(record),
      createTime: now,
      expireTime: new Date(now.getTime() + this.options.lifetimeSeconds * 1000),
      useTime: null,
    };
    return { token, stored };
  }

  async startChain(record: ClientRecord, grant: { scopes: readonly string[]; audiences: readonly string[] }): Promise<string> {
    const { token, stored } = this.mint(record, { ...grant, chainId: randomUUID() });
    await this.options.repository.saveRefreshToken(stored);
    return token;
  }

  /**
   * Redeems a token for its successor. Returns what the new access token may carry: the
   * requested subset (RFC 6749 §6), or everything the original grant had.
   */
  async redeem(
    record: ClientRecord,
    token: string,
    requested: { scopes: readonly string[] | undefined; audiences: readonly string[] },
  ): Promise<{ refreshToken: string; scopes: readonly string[]; audiences: readonly string[] }> {
    const { repository } = this.options;
    const now = this.options.now();
    const stored = await repository.findRefreshToken(hashRefreshToken(token));
    if (!stored || stored.clientId !== record.client.id) throw invalidGrant("refresh token is invalid");
    if (stored.useTime !== null) {
      await repository.revokeRefreshTokenChain(stored.chainId, now);
      throw invalidGrant("refresh token was already used; every token of its chain is now revoked");
    }
    if (stored.expireTime.getTime() <= now.getTime()) throw invalidGrant("refresh token has expired");
    if (!record.client.refreshTokensEnabled || stored.secretHash !== currentSecretHash(record)) {
      throw invalidGrant("refresh token is no longer valid for this client");
    }
    const scopes = requested.scopes ?? stored.scopes;
    if (scopes.some((scope) => !stored.scopes.includes(scope))) {
      throw new TesseraError("invalid_scope", "a refresh can only narrow the original scopes");
    }
    const audiences = requested.audiences.length > 0 ? requested.audiences : stored.audiences;
    if (audiences.some((audience) => !stored.audiences.includes(audience))) {
      throw new TesseraError("invalid_target", "a refresh can only narrow the original audiences");
    }
    const successor = this.mint(record, { scopes: stored.scopes, audiences: stored.audiences, chainId: stored.chainId });
    if (!(await repository.exchangeRefreshToken({ usedId: stored.id, successor: successor.stored, now }))) {
      // Lost a race with another redemption of the same token: that is reuse too.
      await repository.revokeRefreshTokenChain(stored.chainId, now);
      throw invalidGrant("refresh token was already used; every token of its chain is now revoked");
    }
    return { refreshToken: successor.token, scopes, audiences };
  }

  /** RFC 7009 for refresh tokens: ends the chain. Unknown tokens are ignored. */
  async revoke(token: string, mayRevoke: (clientId: string) => boolean): Promise<void> {
    const stored = await this.options.repository.findRefreshToken(hashRefreshToken(token));
    if (!stored) return;
    if (!mayRevoke(stored.clientId)) throw new TesseraError("unauthorized_client", "the token was not issued to this client");
    await this.options.repository.revokeRefreshTokenChain(stored.chainId, this.options.now());
  }
}
