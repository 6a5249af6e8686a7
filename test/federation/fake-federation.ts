/**
 * Federation in process: trusted issuers with generated keys, a directory in a Map, issuer keys
 * that answer from those keys (unknown kid refused as the real fetcher does), and a token
 * endpoint with the federated grants and client-authentication methods over the in-memory core.
 */
import { generateKeyPairSync, randomUUID, type KeyObject } from "node:crypto";
import { SignJWT, type JWTPayload } from "jose";
import type { ClientRecord } from "../../src/clients/client.js";
import { TesseraError } from "../../src/errors.js";
import { FederatedAssertionVerifier, type ReplayGuard } from "../../src/federation/federated-assertion.js";
import type { FederationDirectory, FederationPolicy, TrustedIssuer } from "../../src/federation/federation.js";
import type { IssuerKeys } from "../../src/federation/issuer-keys.js";
import { AssertionReplayCache } from "../../src/oauth/client-authentication/assertion-replay-cache.js";
import { ClientAuthenticator } from "../../src/oauth/client-authentication/client-authenticator.js";
import { FederatedClientAuthenticator, FederatedClients, type FederatedIssuanceEvent } from "../../src/oauth/federated-clients.js";
import { clientCredentialsGrant } from "../../src/oauth/grants/client-credentials-grant.js";
import { federatedSubjectTokenHandler } from "../../src/oauth/grants/federated-subject-token.js";
import { jwtBearerGrant } from "../../src/oauth/grants/jwt-bearer-grant.js";
import { tokenExchangeGrant } from "../../src/oauth/grants/token-exchange-grant.js";
import { TokenEndpoint } from "../../src/oauth/token/token-endpoint.js";
import { inMemoryCore, ISSUER, NOW } from "../oauth/token/in-memory-core.js";

export const NOW_SECONDS = Math.floor(NOW.getTime() / 1000);

export interface FakeIssuer {
  readonly issuer: TrustedIssuer;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly kid: string;
  /** A token this issuer signed: defaults iss, sub, aud (the first audience or Tessera), iat now, exp in 10 minutes, a jti. */
  mint(claims?: JWTPayload & Record<string, unknown>, header?: { typ?: string; kid?: string; key?: KeyObject; alg?: string }): Promise<string>;
}

export function fakeIssuer(overrides: Partial<TrustedIssuer> & { issuer: string }, alg: "ES256" | "RS256" = "ES256"): FakeIssuer {
  const { privateKey, publicKey } = alg === "ES256" ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : generateKeyPairSync("rsa", { modulusLength: 2048 });
  const issuer: TrustedIssuer = {
    description: "",
    keySource: { kind: "discovery" },
    audiences: [],
    allowedAlgorithms: [alg],
    maxTokenLifetimeSeconds: 86_400,
    maxTokenAgeSeconds: null,
    clockToleranceSeconds: 60,
    singleUse: false,
    annotations: {},
    revision: 1,
    createTime: NOW,
    updateTime: NOW,
    ...overrides,
  };
  const kid = `${overrides.issuer}#1`;
  return {
    issuer,
    privateKey,
    publicKey,
    kid,
    mint(claims = {}, header = {}) {
      const payload = {
        iss: issuer.issuer,
        sub: "workload",
        aud: issuer.audiences[0] ?? ISSUER,
        iat: NOW_SECONDS,
        exp: NOW_SECONDS + 600,
        jti: randomUUID(),
        ...claims,
      };
      for (const [name, value] of Object.entries(payload)) if (value === undefined) delete (payload as Record<string, unknown>)[name];
      return new SignJWT(payload)
        .setProtectedHeader({ alg: header.alg ?? alg, kid: header.kid ?? kid, ...(header.typ ? { typ: header.typ } : {}) })
        .sign(header.key ?? privateKey);
    },
  };
}

export function federationPolicy(overrides: Partial<FederationPolicy> & { id: string; issuer: string; clientId: string }): FederationPolicy {
  return { subject: "*", claimConditions: [], copiedClaims: [], description: "", annotations: {}, revision: 1, createTime: NOW, updateTime: NOW, ...overrides };
}

/** The replay guard in memory only, as one replica without storage would have it. */
export function memoryReplayGuard(now: () => Date = () => NOW): ReplayGuard {
  const cache = new AssertionReplayCache();
  return { remember: async (key, expiresAt) => cache.remember(key, Math.ceil(expiresAt.getTime() / 1000), Math.floor(now().getTime() / 1000)) };
}

export class FakeDirectory implements FederationDirectory {
  constructor(
    readonly issuers: Map<string, TrustedIssuer>,
    readonly policies: FederationPolicy[],
  ) {}
  trustedIssuer(issuer: string) {
    return this.issuers.get(issuer);
  }
  spiffeTrustDomain(trustDomain: string) {
    return [...this.issuers.values()].find((issuer) => issuer.keySource.kind === "spiffe" && issuer.keySource.trustDomain === trustDomain);
  }
  federationPoliciesOf(issuer: string) {
    return this.policies.filter((policy) => policy.issuer === issuer);
  }
  delegationPoliciesOf() {
    return [];
  }
}

/** Keys by issuer and kid; counts lookups so tests can tell none happened. */
export function fakeIssuerKeys(issuers: readonly FakeIssuer[]): IssuerKeys & { lookups: number } {
  const keys = {
    lookups: 0,
    async keyFor(issuer: TrustedIssuer, header: { alg?: string | undefined; kid?: string | undefined }) {
      keys.lookups++;
      const found = issuers.find((candidate) => candidate.issuer.issuer === issuer.issuer && candidate.kid === header.kid);
      if (!found) throw new TesseraError("invalid_grant", "the issuer has no key with the assertion's kid");
      return found.publicKey;
    },
  };
  return keys;
}

/** The federated ways in over the in-memory core; keys from the fake issuers, or as given. */
export function federationHarness(input: { clients: readonly ClientRecord[]; issuers: readonly (FakeIssuer | TrustedIssuer)[]; policies: FederationPolicy[]; keys?: IssuerKeys; now?: () => Date }) {
  const now = input.now ?? (() => NOW);
  const core = inMemoryCore(input.clients);
  const trusted = input.issuers.map((issuer) => ("mint" in issuer ? issuer.issuer : issuer));
  const directory = new FakeDirectory(new Map(trusted.map((issuer) => [issuer.issuer, issuer])), input.policies);
  const keys = input.keys ?? fakeIssuerKeys(input.issuers.filter((issuer): issuer is FakeIssuer => "mint" in issuer));
  const verifier = new FederatedAssertionVerifier({ directory, keys, replayGuard: memoryReplayGuard(now), tesseraIssuer: ISSUER, now });
  const issued: FederatedIssuanceEvent[] = [];
  const refused: { way: string; issuer: string | undefined; reason: string }[] = [];
  const clients = new FederatedClients({
    verifier,
    directory,
    registry: core.registry,
    now,
    observer: { issued: (event) => issued.push(event), refused: (way, issuer, reason) => refused.push({ way, issuer, reason }) },
  });
  const authenticator = new ClientAuthenticator({
    registry: core.registry,
    now,
    assertionAudience: ISSUER,
    replayCache: new AssertionReplayCache(),
    federation: new FederatedClientAuthenticator(clients, directory),
  });
  const options = { clients, scopePolicy: "strict" as const };
  const endpoint = new TokenEndpoint({
    authenticator,
    issuer: core.issuer,
    grants: [
      clientCredentialsGrant({ scopePolicy: "strict", refreshTokens: core.refreshTokens }),
      jwtBearerGrant(options),
      tokenExchangeGrant({ handlers: [federatedSubjectTokenHandler(options)] }),
    ],
  });
  return { core, directory, keys, verifier, endpoint, issued, refused };
}
