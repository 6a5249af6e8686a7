/**
 * The three ways in for a workload's external token, in process: the jwt-bearer grant
 * (RFC 7523 §2.1), the token exchange of an external JWT (RFC 8693 §2.1), and client
 * authentication by a trusted issuer's assertion (jwt-bearer, or a SPIFFE JWT-SVID). The issued
 * token is the matched client's; the external subject reaches it only through the template.
 */
import { describe, expect, it } from "vitest";
import type { ClientRecord } from "../../../src/clients/client.js";
import { TesseraError } from "../../../src/errors.js";
import { JWT_BEARER_GRANT_TYPE } from "../../../src/oauth/grants/jwt-bearer-grant.js";
import { TOKEN_EXCHANGE_GRANT_TYPE, TOKEN_TYPE } from "../../../src/oauth/grants/token-exchange-grant.js";
import { JWT_SPIFFE_ASSERTION_TYPE } from "../../../src/oauth/client-authentication/federated-assertion-methods.js";
import { JWT_BEARER_ASSERTION_TYPE } from "../../../src/oauth/client-authentication/private-key-jwt.js";
import { federationHarness, federationPolicy, fakeIssuer } from "../../federation/fake-federation.js";
import { claimsOf, ISSUER, NOW, secretCredentials, testClient, tokenRequest } from "../token/in-memory-core.js";

const K8S = "https://kubernetes.default.svc.cluster.local";
const GITHUB = "https://token.actions.githubusercontent.com";
const SPIFFE = "https://spire.prod.acme";

const k8s = fakeIssuer({ issuer: K8S, audiences: ["tessera"] }, "RS256");
const github = fakeIssuer({ issuer: GITHUB, audiences: ["https://github.com/acme"] });
const spiffe = fakeIssuer({ issuer: SPIFFE, keySource: { kind: "spiffe", trustDomain: "prod.acme", bundleEndpoint: null, bundle: null } });

const k8sToken = (claims: Record<string, unknown> = {}) =>
  k8s.mint({ sub: "system:serviceaccount:payments:api", "kubernetes.io": { namespace: "payments", serviceaccount: { name: "api" } }, ...claims });

function harness(extraClients: ClientRecord[] = [], extraPolicies: ReturnType<typeof federationPolicy>[] = []) {
  const clients = [
    testClient({
      id: "payments-api",
      defaultScopes: ["read"],
      claimsTemplate: {
        workload: "{{assertion.sub}}",
        namespace: "{{assertion.kubernetes.io.namespace}}",
        pod: "{{assertion.kubernetes.io.serviceaccount.name}}",
        team: "payments",
      },
    }),
    testClient({ id: "deployer", defaultScopes: ["write"] }),
    testClient({ id: "mesh-client", defaultScopes: ["read"] }),
    ...extraClients,
  ];
  const policies = [
    federationPolicy({
      id: "k8s-payments",
      issuer: K8S,
      clientId: "payments-api",
      subject: "system:serviceaccount:payments:*",
      claimConditions: [{ claim: "kubernetes.io.namespace", operator: "equals", values: ["payments"] }],
      copiedClaims: ["sub", "kubernetes.io.namespace"],
    }),
    federationPolicy({
      id: "gha-deploy",
      issuer: GITHUB,
      clientId: "deployer",
      subject: "repo:acme/*:ref:refs/heads/main",
      claimConditions: [{ claim: "repository_owner_id", operator: "equals", values: ["4242"] }],
    }),
    federationPolicy({ id: "mesh", issuer: SPIFFE, clientId: "mesh-client", subject: "spiffe://prod.acme/ns/mesh/*" }),
    ...extraPolicies,
  ];
  return federationHarness({ clients, issuers: [k8s, github, spiffe], policies });
}

async function refusal(promise: Promise<unknown>): Promise<{ code: string; description: string }> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  if (!(error instanceof TesseraError)) throw new Error(`expected a TesseraError, got ${String(error)}`);
  return { code: error.code, description: error.description };
}

describe("jwt-bearer grant (RFC 7523 §2.1) with a workload's token", () => {
  it("issues the matched client's token, copying only the allowlisted claims through the template", async () => {
    const { endpoint, issued } = harness();
    const answer = await endpoint.issue(tokenRequest({ grantType: JWT_BEARER_GRANT_TYPE, parameters: { assertion: await k8sToken() } }));
    expect(answer).toMatchObject({ clientId: "payments-api", grantType: JWT_BEARER_GRANT_TYPE, tokenType: "Bearer", scopes: ["read"], audiences: ["https://api.test"] });
    expect(answer.refreshToken).toBeUndefined();
    const claims = claimsOf(answer.accessToken);
    expect(claims).toMatchObject({ iss: ISSUER, sub: "payments-api", client_id: "payments-api", scope: "read", workload: "system:serviceaccount:payments:api", namespace: "payments", team: "payments" });
    // kubernetes.io.serviceaccount.name is not on the policy's list.
    expect(claims).not.toHaveProperty("pod");
    expect(issued).toEqual([{ way: "jwt_bearer", issuer: K8S, subject: "system:serviceaccount:payments:api", policyId: "k8s-payments", clientId: "payments-api" }]);
  });

  it("narrows scopes and audiences as client credentials does", async () => {
    const { endpoint } = harness();
    const assertion = await k8sToken();
    expect((await endpoint.issue(tokenRequest({ grantType: JWT_BEARER_GRANT_TYPE, parameters: { assertion }, scopes: ["write"] }))).scopes).toEqual(["write"]);
    expect((await refusal(endpoint.issue(tokenRequest({ grantType: JWT_BEARER_GRANT_TYPE, parameters: { assertion }, scopes: ["admin"] })))).code).toBe("invalid_scope");
    expect((await refusal(endpoint.issue(tokenRequest({ grantType: JWT_BEARER_GRANT_TYPE, parameters: { assertion }, audiences: ["https://elsewhere.test"] })))).code).toBe("invalid_target");
  });

  it("matches a GitHub Actions token by subject glob and a numeric claim compared as text", async () => {
    const { endpoint } = harness();
    const assertion = await github.mint({ sub: "repo:acme/payments:ref:refs/heads/main", repository_owner_id: 4242, aud: "https://github.com/acme" });
    expect((await endpoint.issue(tokenRequest({ grantType: JWT_BEARER_GRANT_TYPE, parameters: { assertion } }))).clientId).toBe("deployer");
  });

  it("answers invalid_request without an assertion", async () => {
    const { endpoint } = harness();
    expect((await refusal(endpoint.issue(tokenRequest({ grantType: JWT_BEARER_GRANT_TYPE })))).code).toBe("invalid_request");
  });

  it("refuses a subject no policy matches, and a condition not met, without saying what the policy expected", async () => {
    const { endpoint, refused } = harness();
    const otherSubject = await refusal(endpoint.issue(tokenRequest({ grantType: JWT_BEARER_GRANT_TYPE, parameters: { assertion: await k8sToken({ sub: "system:serviceaccount:billing:api" }) } })));
    expect(otherSubject).toEqual({ code: "invalid_grant", description: "no federation policy matches the assertion" });
    const otherNamespace = await refusal(endpoint.issue(tokenRequest({ grantType: JWT_BEARER_GRANT_TYPE, parameters: { assertion: await k8sToken({ "kubernetes.io": { namespace: "billing" } }) } })));
    expect(otherNamespace).toEqual({ code: "invalid_grant", description: "no federation policy matches the assertion" });
    const ownerMismatch = await refusal(
      endpoint.issue(tokenRequest({ grantType: JWT_BEARER_GRANT_TYPE, parameters: { assertion: await github.mint({ sub: "repo:acme/x:ref:refs/heads/main", repository_owner_id: 1, aud: "https://github.com/acme" }) } })),
    );
    expect(ownerMismatch.description).not.toMatch(/4242|payments|acme/);
    expect(refused.map((entry) => entry.reason)).toEqual(["no_matching_policy", "no_matching_policy", "no_matching_policy"]);
  });

  it("refuses an assertion that fails a check with invalid_grant, and counts it under the issuer or unknown", async () => {
    const { endpoint, refused } = harness();
    expect(await refusal(endpoint.issue(tokenRequest({ grantType: JWT_BEARER_GRANT_TYPE, parameters: { assertion: await k8sToken({ aud: "nope" }) } })))).toEqual({
      code: "invalid_grant",
      description: "the assertion's aud does not name this server",
    });
    expect(await refusal(endpoint.issue(tokenRequest({ grantType: JWT_BEARER_GRANT_TYPE, parameters: { assertion: await k8sToken({ iss: "https://evil.example" }) } })))).toMatchObject({ code: "invalid_grant" });
    expect(refused).toEqual([
      { way: "jwt_bearer", issuer: K8S, reason: "audience" },
      { way: "jwt_bearer", issuer: undefined, reason: "unknown_issuer" },
    ]);
  });

  it("when several clients match, wants client_id, and issues to the one named", async () => {
    const { endpoint } = harness([testClient({ id: "payments-batch", defaultScopes: ["write"] })], [federationPolicy({ id: "k8s-batch", issuer: K8S, clientId: "payments-batch", subject: "system:serviceaccount:payments:*" })]);
    const assertion = await k8sToken();
    expect(await refusal(endpoint.issue(tokenRequest({ grantType: JWT_BEARER_GRANT_TYPE, parameters: { assertion } })))).toEqual({
      code: "invalid_grant",
      description: "the assertion matches policies of several clients; the request must name client_id",
    });
    expect((await endpoint.issue(tokenRequest({ grantType: JWT_BEARER_GRANT_TYPE, parameters: { assertion, client_id: "payments-batch" } }))).clientId).toBe("payments-batch");
    expect((await refusal(endpoint.issue(tokenRequest({ grantType: JWT_BEARER_GRANT_TYPE, parameters: { assertion, client_id: "deployer" } })))).code).toBe("invalid_grant");
  });

  it("with client authentication, issues only when one of the authenticated client's own policies matches", async () => {
    const { endpoint } = harness();
    const assertion = await k8sToken();
    expect((await endpoint.issue(tokenRequest({ grantType: JWT_BEARER_GRANT_TYPE, credentials: secretCredentials("payments-api"), parameters: { assertion } }))).clientId).toBe("payments-api");
    expect((await refusal(endpoint.issue(tokenRequest({ grantType: JWT_BEARER_GRANT_TYPE, credentials: secretCredentials("deployer"), parameters: { assertion } })))).code).toBe("invalid_grant");
  });

  it("ignores policies of inactive or expired clients: their workloads get nothing", async () => {
    for (const overrides of [{ status: "inactive" as const }, { expireTime: new Date(NOW.getTime() - 1000) }]) {
      const { endpoint, core } = harness();
      core.registry.put(testClient({ id: "payments-api", ...overrides }));
      expect(await refusal(endpoint.issue(tokenRequest({ grantType: JWT_BEARER_GRANT_TYPE, parameters: { assertion: await k8sToken() } })))).toEqual({
        code: "invalid_grant",
        description: "no federation policy matches the assertion",
      });
    }
  });
});

describe("token exchange (RFC 8693) of a workload's JWT", () => {
  it.each([TOKEN_TYPE.jwt, TOKEN_TYPE.idToken])("issues the matched client's access token for subject_token_type %s", async (subjectTokenType) => {
    const { endpoint, issued } = harness();
    const answer = await endpoint.issue(
      tokenRequest({ grantType: TOKEN_EXCHANGE_GRANT_TYPE, parameters: { subject_token: await k8sToken(), subject_token_type: subjectTokenType }, scopes: ["read"] }),
    );
    expect(answer).toMatchObject({ clientId: "payments-api", grantType: TOKEN_EXCHANGE_GRANT_TYPE, issuedTokenType: TOKEN_TYPE.accessToken, scopes: ["read"] });
    expect(claimsOf(answer.accessToken)).toMatchObject({ sub: "payments-api", client_id: "payments-api", namespace: "payments" });
    expect(issued[0]).toMatchObject({ way: "token_exchange", policyId: "k8s-payments" });
  });

  it("refuses an actor token with an external subject token, and a subject token that fails a check", async () => {
    const { endpoint } = harness();
    const subject_token = await k8sToken();
    expect((await refusal(endpoint.issue(tokenRequest({ grantType: TOKEN_EXCHANGE_GRANT_TYPE, parameters: { subject_token, subject_token_type: TOKEN_TYPE.jwt, actor_token: subject_token, actor_token_type: TOKEN_TYPE.jwt } })))).code).toBe("invalid_request");
    expect(await refusal(endpoint.issue(tokenRequest({ grantType: TOKEN_EXCHANGE_GRANT_TYPE, parameters: { subject_token: await k8sToken({ exp: NOW.getTime() / 1000 - 600, iat: NOW.getTime() / 1000 - 900 }), subject_token_type: TOKEN_TYPE.jwt } })))).toEqual({
      code: "invalid_grant",
      description: "the assertion has expired",
    });
  });
});

describe("client authentication by a federated assertion", () => {
  it("authenticates a client with a trusted issuer's jwt-bearer assertion, for any grant", async () => {
    const { endpoint, issued } = harness();
    const answer = await endpoint.issue(
      tokenRequest({ grantType: "client_credentials", credentials: { method: "private_key_jwt", clientId: "payments-api", clientAssertionType: JWT_BEARER_ASSERTION_TYPE, clientAssertion: await k8sToken() } }),
    );
    expect(answer.clientId).toBe("payments-api");
    expect(issued[0]).toMatchObject({ way: "client_assertion", clientId: "payments-api", issuer: K8S });
  });

  it("answers invalid_client, saying which check failed, when the assertion or the policy does not hold", async () => {
    const { endpoint } = harness();
    const named = (clientId: string, assertion: string) =>
      endpoint.issue(tokenRequest({ grantType: "client_credentials", credentials: { method: "private_key_jwt", clientId, clientAssertionType: JWT_BEARER_ASSERTION_TYPE, clientAssertion: assertion } }));
    expect(await refusal(named("deployer", await k8sToken()))).toEqual({ code: "invalid_client", description: "client authentication failed: no federation policy of the named client matches the assertion" });
    expect(await refusal(named("payments-api", await k8sToken({ aud: "nope" })))).toEqual({ code: "invalid_client", description: "client authentication failed: the assertion's aud does not name this server" });
  });

  it("authenticates a client with a SPIFFE JWT-SVID (jwt-spiffe), client_id optional, aud the issuer alone", async () => {
    const { endpoint, issued } = harness();
    const svid = (claims: Record<string, unknown> = {}) => spiffe.mint({ iss: undefined, jti: undefined, sub: "spiffe://prod.acme/ns/mesh/sa/gateway", aud: [ISSUER], ...claims }, { typ: "JWT" });
    const present = async (clientId: string | undefined, assertion: string) =>
      endpoint.issue(tokenRequest({ grantType: "client_credentials", credentials: { method: "spiffe_jwt", clientId, clientAssertionType: JWT_SPIFFE_ASSERTION_TYPE, clientAssertion: assertion } }));
    expect((await present(undefined, await svid())).clientId).toBe("mesh-client");
    expect((await present("mesh-client", await svid())).clientId).toBe("mesh-client");
    expect(issued.map((event) => event.way)).toEqual(["spiffe_client_assertion", "spiffe_client_assertion"]);
    expect(await refusal(present(undefined, await svid({ aud: `${ISSUER}/oauth/token` })))).toEqual({
      code: "invalid_client",
      description: "client authentication failed: the assertion's aud must be this server's issuer identifier alone",
    });
    expect((await refusal(present(undefined, await svid({ sub: "spiffe://prod.acme/ns/other/sa/x" })))).code).toBe("invalid_client");
    // A JWT-SVID is not a jwt-bearer assertion of its own client.
    expect((await refusal(present(undefined, await k8sToken({ aud: ISSUER }))))).toMatchObject({ code: "invalid_client" });
  });
});
