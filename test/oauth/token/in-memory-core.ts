/**
 * The token pipeline's collaborators in memory, for in-process tests: a ClientRegistry over an
 * empty repository (clients are put in directly), a real ClientAuthenticator, an issuer that
 * signs ES256 in this thread with a generated key, and refresh tokens in a Map. No server, no
 * database: a grant can be developed against these in seconds.
 */
import { generateKeyPairSync, sign } from "node:crypto";
import type { Client, ClientRecord } from "../../../src/clients/client.js";
import { TesseraError } from "../../../src/errors.js";
import { ClientRegistry } from "../../../src/clients/client-registry.js";
import { hashNewSecret } from "../../../src/clients/client-secret.js";
import type { LoadedSigningKey } from "../../../src/keys/key-ring.js";
import { jwsSigningInput, type JwtClaims } from "../../../src/keys/jwt.js";
import type { StoredSigningKey } from "../../../src/keys/signing-key.js";
import { AccessTokenIssuer } from "../../../src/oauth/access-token-issuer.js";
import { AssertionReplayCache } from "../../../src/oauth/client-authentication/assertion-replay-cache.js";
import { ClientAuthenticator } from "../../../src/oauth/client-authentication/client-authenticator.js";
import { RefreshTokens, type RefreshTokenRepository, type StoredRefreshToken } from "../../../src/oauth/refresh-tokens.js";
import type { PresentedClientCredentials } from "../../../src/oauth/client-authentication/presented-credentials.js";
import { NO_PARAMETERS, type TokenRequest } from "../../../src/oauth/token/token-request.js";
import { newClientFixture } from "../../support/client-fixture.js";

export const ISSUER = "https://tessera.test";
export const NOW = new Date("2030-01-01T00:00:00.000Z");
export const SECRET = "s3cret-for-in-process-tests-only-0123456789";

export function testClient(overrides: Partial<Client> & { id: string }): ClientRecord {
  const client: Client = {
    ...newClientFixture({ name: overrides.id, allowedScopes: ["read", "write"], allowedAudiences: ["https://api.test"], defaultAudiences: ["https://api.test"], tokensNotBefore: NOW, ...overrides }),
    status: "active",
    revision: 1,
    createTime: NOW,
    updateTime: NOW,
    ...overrides,
  };
  return { client, secrets: [hashNewSecret(SECRET, "current", NOW)] };
}

/** Refresh tokens in a Map, with the store's single-use exchange. */
export class InMemoryRefreshTokenRepository implements RefreshTokenRepository {
  readonly rows = new Map<string, StoredRefreshToken>();

  async saveRefreshToken(token: StoredRefreshToken): Promise<void> {
    this.rows.set(token.hash, token);
  }

  async findRefreshToken(hash: string): Promise<StoredRefreshToken | undefined> {
    return this.rows.get(hash);
  }

  async exchangeRefreshToken(input: { usedId: string; successor: StoredRefreshToken; now: Date }): Promise<boolean> {
    const used = [...this.rows.values()].find((row) => row.id === input.usedId);
    if (!used || used.useTime !== null) return false;
    this.rows.set(used.hash, { ...used, useTime: input.now });
    this.rows.set(input.successor.hash, input.successor);
    return true;
  }

  async revokeRefreshTokenChain(chainId: string, now: Date) {
    const issued = [];
    for (const row of this.rows.values()) {
      if (row.chainId !== chainId) continue;
      if (row.useTime === null) this.rows.set(row.hash, { ...row, useTime: now });
      if (row.accessToken && row.accessToken.expireTime > now) issued.push(row.accessToken);
    }
    return issued;
  }

  async purgeRefreshTokenChains(): Promise<number> {
    return 0;
  }
}

export interface InMemoryCore {
  readonly registry: ClientRegistry;
  readonly authenticator: ClientAuthenticator;
  readonly issuer: AccessTokenIssuer;
  /** The one ES256 key the issuer signs with, for tests that verify what it signed. */
  readonly signingKey: LoadedSigningKey;
  readonly refreshTokens: RefreshTokens;
  readonly refreshTokenRows: InMemoryRefreshTokenRepository;
  /** Access tokens that a refresh-token chain's end revoked. */
  readonly revokedJtis: string[];
}

export function inMemoryCore(clients: readonly ClientRecord[]): InMemoryCore {
  const registry = new ClientRegistry({
    repository: {
      findClient: async () => undefined,
      findClients: async () => [],
      listClientsAfter: async () => [],
      listClientVersionsAfter: async () => [],
    },
  });
  for (const record of clients) registry.put(record);
  const now = () => NOW;
  const authenticator = new ClientAuthenticator({
    registry,
    now,
    assertionAudience: ISSUER,
    replayCache: new AssertionReplayCache(),
  });
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const key: LoadedSigningKey = {
    kid: "test-key",
    alg: "ES256",
    state: "active",
    publicKey,
    publicJwk: publicKey.export({ format: "jwk" }),
    privateKey,
    stored: {} as StoredSigningKey,
  };
  const issuer = new AccessTokenIssuer({
    issuer: ISSUER,
    keyRing: { activeKey: (alg) => (alg === "ES256" ? key : undefined) },
    signer: {
      async sign(jws) {
        const input = jwsSigningInput(jws.encodedHeader, jws.payload);
        const signature = sign("sha256", Buffer.from(input, "latin1"), { key: jws.privateKey, dsaEncoding: "ieee-p1363" });
        return `${input}.${signature.toString("base64url")}`;
      },
    },
    defaultAlgorithm: "ES256",
    defaultLifetimeSeconds: 300,
    maxLifetimeSeconds: 3600,
    now,
  });
  const refreshTokenRows = new InMemoryRefreshTokenRepository();
  const revokedJtis: string[] = [];
  const refreshTokens = new RefreshTokens({
    repository: refreshTokenRows,
    lifetimeSeconds: 3600,
    maxChainLifetimeSeconds: 86_400,
    endedChainRetentionSeconds: 3600,
    accessTokenRevocations: { revoke: async (revocation) => void revokedJtis.push(revocation.jti) },
    now,
  });
  return { registry, authenticator, issuer, signingKey: key, refreshTokens, refreshTokenRows, revokedJtis };
}

/** A token request as a transport would build it; parameters by name, one value each. */
export function tokenRequest(input: {
  grantType: string | undefined;
  credentials?: PresentedClientCredentials | undefined;
  parameters?: Record<string, string>;
  scopes?: readonly string[];
  audiences?: readonly string[];
  dpop?: string;
}): TokenRequest {
  const entries = Object.entries(input.parameters ?? {}).map(([name, value]) => [name, [value]] as const);
  return {
    grantType: input.grantType,
    credentials: input.credentials,
    parameters: entries.length > 0 ? new Map(entries) : NO_PARAMETERS,
    scopes: input.scopes,
    audiences: input.audiences ?? [],
    proof: { method: "POST", url: `${ISSUER}/oauth/token`, dpop: input.dpop },
  };
}

export function secretCredentials(clientId: string, clientSecret = SECRET): PresentedClientCredentials {
  return { method: "client_secret_post", clientId, clientSecret };
}

/** The claims of a compact JWS, unverified: the tests check what was signed, not the signature. */
export function claimsOf(token: string): JwtClaims {
  return JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as JwtClaims;
}

/** The OAuth error code a refused request settles with; fails the test when it is not refused. */
export async function refusalCode(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof TesseraError)) throw new Error(`expected a TesseraError, got ${String(error)}`);
  return error.code;
}
