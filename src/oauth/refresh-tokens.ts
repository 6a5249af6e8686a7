/**
 * Refresh tokens for the client credentials grant, a per-client opt-in (RFC 6749 §4.4.3 says
 * not to issue them by default). Opaque, 256-bit, stored only as SHA-256 hashes, single use with
 * rotation on every use; presenting a used one revokes its whole chain and the access tokens the
 * chain issued (OAuth 2.0 Security BCP §4.14.2). A chain also ends with its lifetime (each token's
 * own, and an absolute one counted from the chain's first token), the client's deactivation, or a
 * completed secret rotation (each token remembers the secret it was issued under).
 *
 * A redemption grants at most what the client is allowed now: the chain's scopes and audiences
 * are what was granted once, each new access token gets only the part the client still holds.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { ClientRecord } from "../clients/client.js";
import { TesseraError } from "../errors.js";
import type { Revocation } from "./revocation-list.js";

export const REFRESH_TOKEN_PREFIX = "rt_";
/** What we mint: the prefix and 32 random bytes in base64url. Anything else names no token. */
const REFRESH_TOKEN_PATTERN = /^rt_[A-Za-z0-9_-]{43}$/;

/** An access token issued together with a refresh token: ending the chain revokes it. */
export interface ChainAccessToken {
  readonly jti: string;
  readonly expireTime: Date;
  /** The token's confirmation (RFC 7800), when bound: a DPoP `jkt` binds the chain too. */
  readonly cnf?: Readonly<Record<string, unknown>> | undefined;
}

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
  /** When the chain's first token was issued. */
  readonly chainStartTime: Date;
  readonly accessToken: ChainAccessToken | null;
  /** RFC 9449 §5: the DPoP key's thumbprint the chain is bound to; null when not bound. */
  readonly dpopJkt: string | null;
}

export interface RefreshTokenRepository {
  saveRefreshToken(token: StoredRefreshToken): Promise<void>;
  findRefreshToken(hash: string): Promise<StoredRefreshToken | undefined>;
  /** Marks `usedId` used and stores `successor`, atomically; false if it was already used. */
  exchangeRefreshToken(input: { usedId: string; successor: StoredRefreshToken; now: Date }): Promise<boolean>;
  /**
   * Marks every unused token of the chain used; returns the access tokens issued from the chain
   * that have not expired by `now`.
   */
  revokeRefreshTokenChain(chainId: string, now: Date): Promise<ChainAccessToken[]>;
  /** Deletes every token of the chains whose tokens all expired before `before`; returns how many. */
  purgeRefreshTokenChains(before: Date): Promise<number>;
}

/** A refresh token that could be redeemed now, as introspection shows it to its owner. */
export interface ActiveRefreshToken {
  readonly clientId: string;
  /** Capped by the client's current allowance: what a redemption would grant. */
  readonly scopes: readonly string[];
  readonly audiences: readonly string[];
  readonly issueTime: Date;
  readonly expireTime: Date;
}

export function hashRefreshToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

function currentSecretHash(record: ClientRecord): string {
  return record.secrets.find((secret) => secret.slot === "current")?.hash ?? "";
}

function dpopJktOf(accessToken: ChainAccessToken): string | null {
  const jkt = accessToken.cnf?.jkt;
  return typeof jkt === "string" ? jkt : null;
}

const invalidGrant = (description: string) => new TesseraError("invalid_grant", description);
const REUSED = "refresh token was already used; every token of its chain is now revoked";

/**
 * The part of a chain's grant the client still holds. Undefined when a non-empty grant has
 * nothing left: an empty audience list would turn the token into one for Tessera itself, and an
 * empty scope set is not what the grant was for — the refresh token no longer grants anything,
 * which RFC 6749 §5.2 calls invalid_grant.
 */
function currentGrant(stored: StoredRefreshToken, record: ClientRecord): { scopes: string[]; audiences: string[] } | undefined {
  const { allowedScopes, allowedAudiences } = record.client;
  const scopes = stored.scopes.filter((scope) => allowedScopes.includes(scope));
  const audiences = stored.audiences.filter((audience) => allowedAudiences.includes(audience));
  if (scopes.length === 0 && stored.scopes.length > 0) return undefined;
  if (audiences.length === 0 && stored.audiences.length > 0) return undefined;
  return { scopes, audiences };
}

/** What an unused token of `record` may still be redeemed for now, or why it may not. */
function redeemableGrant(
  stored: StoredRefreshToken,
  record: ClientRecord,
  now: Date,
): { scopes: string[]; audiences: string[] } | { refused: string } {
  if (stored.expireTime.getTime() <= now.getTime()) return { refused: "refresh token has expired" };
  if (!record.client.refreshTokensEnabled || stored.secretHash !== currentSecretHash(record)) {
    return { refused: "refresh token is no longer valid for this client" };
  }
  return currentGrant(stored, record) ?? { refused: "the refresh token's scopes or audiences are no longer allowed for this client" };
}

export class RefreshTokens {
  constructor(
    private readonly options: {
      repository: RefreshTokenRepository;
      /** Each token's own lifetime, restarted by every redemption. */
      lifetimeSeconds: number;
      /** No token of a chain outlives the chain's first token by more than this. */
      maxChainLifetimeSeconds: number;
      /**
       * How long a chain's rows stay after its last token expired: as long as the access tokens
       * it issued may live, so revoking the chain still revokes them.
       */
      endedChainRetentionSeconds: number;
      /** Where ending a chain revokes the access tokens it issued. */
      accessTokenRevocations: { revoke(revocation: Revocation): Promise<void> };
      now: () => Date;
    },
  ) {}

  /** A new token, starting a chain or continuing one. Returns the plaintext, shown once. */
  private mint(
    record: ClientRecord,
    grant: { scopes: readonly string[]; audiences: readonly string[]; chainId: string; chainStartTime: Date; accessToken: ChainAccessToken },
  ) {
    const token = `${REFRESH_TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
    const now = this.options.now();
    const ownEnd = now.getTime() + this.options.lifetimeSeconds * 1000;
    const chainEnd = grant.chainStartTime.getTime() + this.options.maxChainLifetimeSeconds * 1000;
    const stored: StoredRefreshToken = {
      id: randomUUID(),
      hash: hashRefreshToken(token),
      clientId: record.client.id,
      chainId: grant.chainId,
      scopes: [...grant.scopes],
      audiences: [...grant.audiences],
      secretHash: currentSecretHash(record),
      createTime: now,
      expireTime: new Date(Math.min(ownEnd, chainEnd)),
      useTime: null,
      chainStartTime: grant.chainStartTime,
      accessToken: { jti: grant.accessToken.jti, expireTime: grant.accessToken.expireTime },
      dpopJkt: dpopJktOf(grant.accessToken),
    };
    return { token, stored };
  }

  /** Starts a chain for a grant whose first access token was just issued. */
  async startChain(
    record: ClientRecord,
    grant: { scopes: readonly string[]; audiences: readonly string[]; accessToken: ChainAccessToken },
  ): Promise<string> {
    const { token, stored } = this.mint(record, { ...grant, chainId: randomUUID(), chainStartTime: this.options.now() });
    await this.options.repository.saveRefreshToken(stored);
    return token;
  }

  /**
   * Redeems a token for its successor and a new access token, which `issueAccessToken` signs
   * once the redemption is known to be allowed. The access token may carry the requested subset
   * (RFC 6749 §6) or, by default, the whole grant — in both cases only what the client is still
   * allowed: a withdrawn scope asked for by name is invalid_scope, a withdrawn audience
   * invalid_target, and without a request they are silently left out (the response's `scope`
   * says what was granted, RFC 6749 §5.1). The successor keeps the chain's original grant, as
   * §6 wants, so each later redemption is capped again by the allowance of its day.
   */
  async redeem<Issued extends ChainAccessToken>(
    record: ClientRecord,
    token: string,
    request: {
      scopes: readonly string[] | undefined;
      audiences: readonly string[];
      issueAccessToken: (grant: { scopes: readonly string[]; audiences: readonly string[] }) => Promise<Issued>;
    },
  ): Promise<{ refreshToken: string; accessToken: Issued; scopes: readonly string[]; audiences: readonly string[] }> {
    const { repository } = this.options;
    const now = this.options.now();
    const stored = await this.find(token);
    if (!stored || stored.clientId !== record.client.id) throw invalidGrant("refresh token is invalid");
    if (stored.useTime !== null) {
      await this.endChain(stored, now);
      throw invalidGrant(REUSED);
    }
    const allowed = redeemableGrant(stored, record, now);
    if ("refused" in allowed) throw invalidGrant(allowed.refused);
    const scopes = request.scopes ?? allowed.scopes;
    if (scopes.some((scope) => !stored.scopes.includes(scope))) {
      throw new TesseraError("invalid_scope", "a refresh can only narrow the original scopes");
    }
    const withdrawnScopes = scopes.filter((scope) => !allowed.scopes.includes(scope));
    if (withdrawnScopes.length > 0) {
      throw new TesseraError("invalid_scope", `scope no longer allowed for this client: ${withdrawnScopes.slice(0, 10).join(" ")}`);
    }
    const audiences = request.audiences.length > 0 ? request.audiences : allowed.audiences;
    if (audiences.some((audience) => !stored.audiences.includes(audience))) {
      throw new TesseraError("invalid_target", "a refresh can only narrow the original audiences");
    }
    const withdrawnAudiences = audiences.filter((audience) => !allowed.audiences.includes(audience));
    if (withdrawnAudiences.length > 0) {
      throw new TesseraError("invalid_target", `audience no longer allowed for this client: ${withdrawnAudiences.slice(0, 5).join(" ")}`);
    }
    // Signed before the exchange so the successor can name it; if the exchange loses a race the
    // token is never handed out.
    const accessToken = await request.issueAccessToken({ scopes, audiences });
    // RFC 9449 §5: a chain bound to a DPoP key is redeemed only with a proof by that key (the DPoP
    // extension checked the proof and bound the new token to its key); the token is discarded.
    if (stored.dpopJkt !== null && dpopJktOf(accessToken) !== stored.dpopJkt) {
      throw new TesseraError("invalid_dpop_proof", "this refresh token is bound to a DPoP key: send a DPoP proof signed by it");
    }
    const successor = this.mint(record, {
      scopes: stored.scopes,
      audiences: stored.audiences,
      chainId: stored.chainId,
      chainStartTime: stored.chainStartTime,
      accessToken,
    });
    if (!(await repository.exchangeRefreshToken({ usedId: stored.id, successor: successor.stored, now }))) {
      // Lost a race with another redemption of the same token: that is reuse too.
      await this.endChain(stored, now);
      throw invalidGrant(REUSED);
    }
    return { refreshToken: successor.token, accessToken, scopes, audiences };
  }

  /**
   * RFC 7662 §2.2 for refresh tokens: the token's facts if it could be redeemed now by `record`,
   * its owner; undefined otherwise. Other callers never learn about a refresh token.
   */
  async describe(record: ClientRecord, token: string): Promise<ActiveRefreshToken | undefined> {
    const stored = await this.find(token);
    if (!stored || stored.clientId !== record.client.id || stored.useTime !== null) return undefined;
    const allowed = redeemableGrant(stored, record, this.options.now());
    if ("refused" in allowed) return undefined;
    return { clientId: stored.clientId, ...allowed, issueTime: stored.createTime, expireTime: stored.expireTime };
  }

  /**
   * RFC 7009 for refresh tokens: ends the chain and, as §2.1 recommends, revokes the access
   * tokens issued from it. Unknown tokens are ignored.
   */
  async revoke(token: string, mayRevoke: (clientId: string) => boolean): Promise<void> {
    const stored = await this.find(token);
    if (!stored) return;
    if (!mayRevoke(stored.clientId)) throw new TesseraError("unauthorized_client", "the token was not issued to this client");
    await this.endChain(stored, this.options.now());
  }

  /**
   * Deletes the chains that ended longer than the retention ago; returns how many tokens went.
   * Until a chain's last token expires its used tokens stay, so presenting any of them is still
   * recognised as reuse.
   */
  purge(now: Date): Promise<number> {
    return this.options.repository.purgeRefreshTokenChains(new Date(now.getTime() - this.options.endedChainRetentionSeconds * 1000));
  }

  private async find(token: string): Promise<StoredRefreshToken | undefined> {
    if (!REFRESH_TOKEN_PATTERN.test(token)) return undefined;
    return this.options.repository.findRefreshToken(hashRefreshToken(token));
  }

  private async endChain(stored: StoredRefreshToken, now: Date): Promise<void> {
    const accessTokens = await this.options.repository.revokeRefreshTokenChain(stored.chainId, now);
    for (const accessToken of accessTokens) {
      await this.options.accessTokenRevocations.revoke({ jti: accessToken.jti, clientId: stored.clientId, expireTime: accessToken.expireTime });
    }
  }
}
