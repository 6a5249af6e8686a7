/**
 * Token exchange of Tessera's own access tokens (RFC 8693 §1.1 delegation) in process: C's token
 * for A becomes, at A's request, a token for B saying "C, with A acting"; every refusal leaves
 * nothing issued, and a derived token dies with any token or client it came from.
 */
import { describe, expect, it } from "vitest";
import type { ClientRecord } from "../../../src/clients/client.js";
import type { DelegationPolicy } from "../../../src/federation/federation.js";
import type { JwtClaims } from "../../../src/keys/jwt.js";
import { AccessTokenVerifier } from "../../../src/oauth/access-token-verifier.js";
import { delegatedSubjectTokenHandler } from "../../../src/oauth/grants/delegated-subject-token.js";
import { TOKEN_EXCHANGE_GRANT_TYPE, TOKEN_TYPE, tokenExchangeGrant } from "../../../src/oauth/grants/token-exchange-grant.js";
import { RevocationList, type Revocation } from "../../../src/oauth/revocation-list.js";
import { TokenEndpoint } from "../../../src/oauth/token/token-endpoint.js";
import { claimsOf, inMemoryCore, ISSUER, NOW, refusalCode, secretCredentials, testClient, tokenRequest } from "../token/in-memory-core.js";

const C = "svc-caller";
const A = "svc-orders";
const B = "svc-billing";
const D = "svc-ledger";

function policy(overrides: Partial<DelegationPolicy> & { clientId: string }): DelegationPolicy {
  return {
    id: `policy-${overrides.clientId}`,
    subjectAudiences: [],
    audiences: [],
    scopes: [],
    allowImpersonation: false,
    description: "",
    annotations: {},
    revision: 1,
    createTime: NOW,
    updateTime: NOW,
    ...overrides,
  };
}

const DEFAULT_POLICIES = [
  policy({ clientId: A, audiences: [B], scopes: ["orders:read", "billing:read", "billing:write"] }),
  policy({ clientId: B, audiences: [D], scopes: ["billing:read", "orders:read"] }),
  policy({ clientId: D, audiences: ["svc-archive"], scopes: ["billing:read"] }),
];

function setUp(options: { policies?: readonly DelegationPolicy[]; maxDelegationDepth?: number; clients?: readonly ClientRecord[] } = {}) {
  const clients = options.clients ?? [
    testClient({ id: C, allowedScopes: ["orders:read", "billing:read", "billing:write"], allowedAudiences: [A, "svc-other"] }),
    // The actors' own allowances are deliberately narrow: a delegated token carries C's authority.
    testClient({ id: A, allowedScopes: [], allowedAudiences: [] }),
    testClient({ id: B, allowedScopes: [], allowedAudiences: [] }),
    testClient({ id: D, allowedScopes: [], allowedAudiences: [] }),
  ];
  const core = inMemoryCore(clients);
  const revoked: Revocation[] = [];
  const revocations = new RevocationList({
    saveRevocation: async (revocation) => void revoked.push(revocation),
    listRevocations: async () => revoked,
    purgeRevocations: async () => 0,
  });
  const clock = { now: NOW };
  const now = () => clock.now;
  const verifier = new AccessTokenVerifier({
    issuer: ISSUER,
    keyRing: { publishedKey: (kid) => (kid === core.signingKey.kid ? core.signingKey : undefined) },
    registry: core.registry,
    revocations,
    now,
  });
  const policies = options.policies ?? DEFAULT_POLICIES;
  const handler = delegatedSubjectTokenHandler({
    verifier,
    directory: { delegationPoliciesOf: (clientId) => policies.filter((entry) => entry.clientId === clientId) },
    maxDelegationDepth: options.maxDelegationDepth ?? 4,
    now,
  });
  const endpoint = new TokenEndpoint({ authenticator: core.authenticator, issuer: core.issuer, grants: [tokenExchangeGrant({ handlers: [handler] })] });

  /** C's token for A, as C's client credentials would get it (or with extra claims). */
  const subjectToken = async (input: { client?: string; audiences?: string[]; scopes?: string[]; claims?: JwtClaims } = {}) => {
    const record = core.registry.find(input.client ?? C)!;
    const issued = await core.issuer.issue({
      client: record.client,
      scopes: input.scopes ?? ["orders:read", "billing:read"],
      audiences: input.audiences ?? [A],
      claims: input.claims,
    });
    return issued.token;
  };
  const exchange = (input: {
    actor?: string | undefined;
    subjectToken: string;
    audiences?: string[];
    scopes?: string[];
    parameters?: Record<string, string>;
  }) =>
    endpoint.issue(
      tokenRequest({
        grantType: TOKEN_EXCHANGE_GRANT_TYPE,
        credentials: input.actor === undefined ? undefined : secretCredentials(input.actor),
        parameters: { subject_token: input.subjectToken, subject_token_type: TOKEN_TYPE.accessToken, ...input.parameters },
        audiences: input.audiences ?? [B],
        scopes: input.scopes,
      }),
    );
  const revoke = async (token: string) => {
    const facts = (await verifier.verifySignedClaims(token))!;
    await revocations.revoke({ jti: facts.jti, clientId: facts.clientId, expireTime: new Date(facts.expiresAt * 1000) });
  };
  const deactivate = (clientId: string) => {
    const record = core.registry.find(clientId)!;
    core.registry.put({ ...record, client: { ...record.client, status: "inactive", revision: record.client.revision + 1 } });
  };
  return { core, verifier, clock, subjectToken, exchange, revoke, deactivate };
}

describe("token exchange of Tessera access tokens (RFC 8693 delegation)", () => {
  it("issues A a token for B about C, with act = {sub: A}, narrower scopes and issued_token_type", async () => {
    const { subjectToken, exchange, verifier } = setUp();
    const subject = await subjectToken();
    const answer = await exchange({ actor: A, subjectToken: subject, scopes: ["billing:read"] });
    expect(answer).toMatchObject({ clientId: A, grantType: TOKEN_EXCHANGE_GRANT_TYPE, issuedTokenType: TOKEN_TYPE.accessToken, scopes: ["billing:read"], audiences: [B] });
    expect(answer.refreshToken).toBeUndefined();
    const claims = claimsOf(answer.accessToken);
    expect(claims).toMatchObject({ sub: C, client_id: A, aud: B, scope: "billing:read", act: { sub: A } });
    expect((claims["act"] as Record<string, unknown>)["act"]).toBeUndefined();
    expect(claims["tessera_chain"]).toEqual([{ jti: claimsOf(subject).jti, client_id: C, iat: claimsOf(subject).iat, exp: claimsOf(subject).exp }]);
    // Active by the server's verifier although A itself may hold neither that scope nor that audience.
    const active = await verifier.verify(answer.accessToken);
    expect(active).toMatchObject({ clientId: A, scopes: ["billing:read"], audiences: [B], actor: { subject: A } });
  });

  it("grants everything the subject token and the policy have in common when no scope is asked for", async () => {
    const { subjectToken, exchange } = setUp();
    const answer = await exchange({ actor: A, subjectToken: await subjectToken({ scopes: ["orders:read", "billing:read"] }) });
    expect(answer.scopes).toEqual(["orders:read", "billing:read"]);
  });

  it("nests the chain on a second hop (B → D) and refuses the hop beyond the depth limit", async () => {
    const { subjectToken, exchange } = setUp({ maxDelegationDepth: 2 });
    const forB = await exchange({ actor: A, subjectToken: await subjectToken() });
    const forD = await exchange({ actor: B, subjectToken: forB.accessToken, audiences: [D], scopes: ["billing:read"] });
    const claims = claimsOf(forD.accessToken);
    expect(claims).toMatchObject({ sub: C, client_id: B, aud: D, act: { sub: B, act: { sub: A } } });
    expect((claims["tessera_chain"] as unknown[]).map((entry) => (entry as { client_id: string }).client_id)).toEqual([C, A]);
    const refusal = exchange({ actor: D, subjectToken: forD.accessToken, audiences: ["svc-archive"] });
    await expect(refusal).rejects.toMatchObject({ code: "invalid_grant", message: "the delegation chain would exceed 2 exchanges" });
  });

  it("ends the new token no later than the subject token", async () => {
    const { subjectToken, exchange, clock } = setUp();
    const subject = await subjectToken();
    clock.now = new Date(NOW.getTime() + 250_000);
    const answer = await exchange({ actor: A, subjectToken: subject });
    expect(answer.expiresIn).toBe(50);
  });

  describe("refusals", () => {
    it("answers invalid_client when the caller does not authenticate", async () => {
      const { subjectToken, exchange } = setUp();
      expect(await refusalCode(exchange({ actor: undefined, subjectToken: await subjectToken() }))).toBe("invalid_client");
    });

    it("answers unauthorized_client when no delegation policy names the caller", async () => {
      const { subjectToken, exchange } = setUp({ policies: [] });
      await expect(exchange({ actor: A, subjectToken: await subjectToken() })).rejects.toMatchObject({
        code: "unauthorized_client",
        message: "no delegation policy lets this client exchange access tokens",
      });
    });

    it("answers invalid_scope for a scope the subject token lacks (an exchange never widens)", async () => {
      const { subjectToken, exchange } = setUp();
      await expect(exchange({ actor: A, subjectToken: await subjectToken({ scopes: ["billing:read"] }), scopes: ["billing:write"] })).rejects.toMatchObject({
        code: "invalid_scope",
        message: "scope wider than the subject token's: billing:write",
      });
    });

    it("answers invalid_scope for a scope of the subject token the policy does not allow", async () => {
      const { subjectToken, exchange } = setUp({ policies: [policy({ clientId: A, audiences: [B], scopes: ["billing:read"] })] });
      const refusal = exchange({ actor: A, subjectToken: await subjectToken(), scopes: ["orders:read"] });
      await expect(refusal).rejects.toMatchObject({ code: "invalid_scope", message: "scope not allowed by this client's delegation policy: orders:read" });
      const nothingInCommon = exchange({ actor: A, subjectToken: await subjectToken({ scopes: ["orders:read"] }) });
      expect(await refusalCode(nothingInCommon)).toBe("invalid_scope");
    });

    it("answers invalid_target for an audience the policy does not allow, and for no audience at all", async () => {
      const { subjectToken, exchange } = setUp();
      await expect(exchange({ actor: A, subjectToken: await subjectToken(), audiences: [D] })).rejects.toMatchObject({
        code: "invalid_target",
        message: `audience not allowed for delegation by this client: ${D}`,
      });
      expect(await refusalCode(exchange({ actor: A, subjectToken: await subjectToken(), audiences: [] }))).toBe("invalid_target");
    });

    it("answers invalid_grant for a subject token not addressed to the caller, unless its policy accepts that audience", async () => {
      const { subjectToken, exchange } = setUp();
      await expect(exchange({ actor: A, subjectToken: await subjectToken({ audiences: ["svc-other"] }) })).rejects.toMatchObject({
        code: "invalid_grant",
        message: "the subject token is not addressed to this client",
      });
      const accepting = setUp({ policies: [policy({ clientId: A, subjectAudiences: ["svc-other"], audiences: [B], scopes: ["billing:read"] })] });
      const answer = await accepting.exchange({ actor: A, subjectToken: await accepting.subjectToken({ audiences: ["svc-other"] }) });
      expect(answer.scopes).toEqual(["billing:read"]);
    });

    it("answers invalid_grant for an expired, revoked, forged or deactivated client's subject token", async () => {
      const expired = setUp();
      const old = await expired.subjectToken();
      expired.clock.now = new Date(NOW.getTime() + 301_000);
      expect(await refusalCode(expired.exchange({ actor: A, subjectToken: old }))).toBe("invalid_grant");

      const revoked = setUp();
      const token = await revoked.subjectToken();
      await revoked.revoke(token);
      await expect(revoked.exchange({ actor: A, subjectToken: token })).rejects.toMatchObject({
        code: "invalid_grant",
        message: "subject_token is not an active access token of this server",
      });

      const forged = setUp();
      const [header, , signature] = (await forged.subjectToken()).split(".");
      const payload = Buffer.from(JSON.stringify({ ...claimsOf(await forged.subjectToken()), scope: "billing:write" })).toString("base64url");
      expect(await refusalCode(forged.exchange({ actor: A, subjectToken: `${header}.${payload}.${signature}` }))).toBe("invalid_grant");

      const deactivated = setUp();
      const ofC = await deactivated.subjectToken();
      deactivated.deactivate(C);
      expect(await refusalCode(deactivated.exchange({ actor: A, subjectToken: ofC }))).toBe("invalid_grant");
    });

    it("accepts the caller's own actor_token and refuses another client's with invalid_grant", async () => {
      const { subjectToken, exchange } = setUp();
      const subject = await subjectToken();
      const own = await subjectToken({ client: A, audiences: [], scopes: [] });
      const actorToken = (token: string) => ({ actor_token: token, actor_token_type: TOKEN_TYPE.accessToken });
      expect((await exchange({ actor: A, subjectToken: subject, parameters: actorToken(own) })).clientId).toBe(A);
      await expect(exchange({ actor: A, subjectToken: subject, parameters: actorToken(await subjectToken({ client: B, audiences: [], scopes: [] })) })).rejects.toMatchObject({
        code: "invalid_grant",
        message: "actor_token must be the authenticated client's own token",
      });
      // C's token is not A's identity, even though it is addressed to A.
      expect(await refusalCode(exchange({ actor: A, subjectToken: subject, parameters: actorToken(subject) }))).toBe("invalid_grant");
      expect(await refusalCode(exchange({ actor: A, subjectToken: subject, parameters: actorToken("not-a-token") }))).toBe("invalid_grant");
      const jwtTyped = { actor_token: own, actor_token_type: TOKEN_TYPE.jwt };
      expect(await refusalCode(exchange({ actor: A, subjectToken: subject, parameters: jwtTyped }))).toBe("invalid_request");
    });

    it("honours may_act in the subject token (RFC 8693 §4.4)", async () => {
      const { subjectToken, exchange } = setUp();
      const forA = await subjectToken({ claims: { may_act: { sub: A } } });
      expect((await exchange({ actor: A, subjectToken: forA })).clientId).toBe(A);
      const forOther = await subjectToken({ claims: { may_act: { sub: "svc-someone-else" } } });
      await expect(exchange({ actor: A, subjectToken: forOther })).rejects.toMatchObject({
        code: "invalid_grant",
        message: "the subject token's may_act does not name this client",
      });
    });

    it("refuses requested_token_type other than an access token with invalid_request", async () => {
      const { subjectToken, exchange } = setUp();
      const refusal = exchange({ actor: A, subjectToken: await subjectToken(), parameters: { requested_token_type: TOKEN_TYPE.refreshToken } });
      expect(await refusalCode(refusal)).toBe("invalid_request");
    });
  });

  describe("impersonation (RFC 8693 §1.1)", () => {
    it("is refused with unauthorized_client when no policy allows it", async () => {
      const { subjectToken, exchange } = setUp();
      await expect(exchange({ actor: A, subjectToken: await subjectToken(), parameters: { impersonate: "true" } })).rejects.toMatchObject({
        code: "unauthorized_client",
        message: "no delegation policy lets this client impersonate",
      });
    });

    it("issues a token without act only when the policy allows it and the request asks", async () => {
      const { subjectToken, exchange } = setUp({ policies: [policy({ clientId: A, audiences: [B], scopes: ["billing:read"], allowImpersonation: true })] });
      const delegated = await exchange({ actor: A, subjectToken: await subjectToken() });
      expect(claimsOf(delegated.accessToken)["act"]).toEqual({ sub: A });
      const impersonating = await exchange({ actor: A, subjectToken: await subjectToken(), parameters: { impersonate: "true" } });
      const claims = claimsOf(impersonating.accessToken);
      expect(claims).toMatchObject({ sub: C, client_id: A, aud: B });
      expect(claims["act"]).toBeUndefined();
      expect(claims["tessera_chain"]).toHaveLength(1);
      expect(await refusalCode(exchange({ actor: A, subjectToken: await subjectToken(), parameters: { impersonate: "yes" } }))).toBe("invalid_request");
    });
  });

  describe("revocation follows the chain", () => {
    it("makes every derived token inactive when the subject token is revoked", async () => {
      const { subjectToken, exchange, revoke, verifier } = setUp();
      const subject = await subjectToken();
      const forB = await exchange({ actor: A, subjectToken: subject });
      const forD = await exchange({ actor: B, subjectToken: forB.accessToken, audiences: [D], scopes: ["billing:read"] });
      expect(await verifier.verify(forD.accessToken)).toBeDefined();
      await revoke(subject);
      expect(await verifier.verify(forB.accessToken)).toBeUndefined();
      expect(await verifier.verify(forD.accessToken)).toBeUndefined();
    });

    it("makes derived tokens inactive when a middle token of the chain is revoked, leaving its ancestors alone", async () => {
      const { subjectToken, exchange, revoke, verifier } = setUp();
      const subject = await subjectToken();
      const forB = await exchange({ actor: A, subjectToken: subject });
      const forD = await exchange({ actor: B, subjectToken: forB.accessToken, audiences: [D], scopes: ["billing:read"] });
      await revoke(forB.accessToken);
      expect(await verifier.verify(forD.accessToken)).toBeUndefined();
      expect(await verifier.verify(subject)).toBeDefined();
    });

    it.each([
      ["the subject's client C", C],
      ["the first actor A", A],
      ["the second actor B", B],
    ])("makes derived tokens inactive when %s is deactivated", async (_name, clientId) => {
      const { subjectToken, exchange, deactivate, verifier } = setUp();
      const forB = await exchange({ actor: A, subjectToken: await subjectToken() });
      const forD = await exchange({ actor: B, subjectToken: forB.accessToken, audiences: [D], scopes: ["billing:read"] });
      deactivate(clientId);
      expect(await verifier.verify(forD.accessToken)).toBeUndefined();
    });

    it("caps a derived token's scopes by what C may have now, not by the actor's allowance", async () => {
      const { core, subjectToken, exchange, verifier } = setUp();
      const forB = await exchange({ actor: A, subjectToken: await subjectToken() });
      const record = core.registry.find(C)!;
      core.registry.put({ ...record, client: { ...record.client, allowedScopes: ["orders:read"], revision: 2 } });
      expect((await verifier.verify(forB.accessToken))?.scopes).toEqual(["orders:read"]);
    });

    it("treats a token whose act or chain is malformed as inactive", async () => {
      const { core, verifier } = setUp();
      const record = core.registry.find(A)!;
      for (const claims of [{ act: "svc-orders" }, { act: { sub: 42 } }, { tessera_chain: {} }, { tessera_chain: [{ jti: "x" }] }]) {
        const issued = await core.issuer.issue({ client: record.client, scopes: [], audiences: [], claims });
        expect(await verifier.verify(issued.token)).toBeUndefined();
      }
    });
  });
});
