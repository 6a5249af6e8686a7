/**
 * Tokens shaped as real platforms mint them — a Kubernetes projected service-account token, a
 * GitHub Actions OIDC token, a SPIFFE JWT-SVID — from a fake issuer over HTTPS, through the
 * federated ways in with the policies the README's recipes create. Keys come through the real
 * issuer key cache and hardened fetcher (OIDC discovery, a JWKS URL, a SPIFFE bundle endpoint).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IssuerKeyCache } from "../../src/federation/issuer-key-cache.js";
import { outboundJsonFetcher } from "../../src/federation/outbound-fetch.js";
import type { TrustedIssuer } from "../../src/federation/federation.js";
import { JWT_SPIFFE_ASSERTION_TYPE } from "../../src/oauth/client-authentication/federated-assertion-methods.js";
import { JWT_BEARER_GRANT_TYPE } from "../../src/oauth/grants/jwt-bearer-grant.js";
import { TOKEN_EXCHANGE_GRANT_TYPE, TOKEN_TYPE } from "../../src/oauth/grants/token-exchange-grant.js";
import { startFakeIssuer, type FakeIssuer } from "../support/fake-issuer.js";
import { claimsOf, ISSUER, NOW, testClient, tokenRequest } from "../oauth/token/in-memory-core.js";
import { federationHarness, federationPolicy } from "./fake-federation.js";

let k8s: FakeIssuer;
let github: FakeIssuer;
let spire: FakeIssuer;

beforeAll(async () => {
  [k8s, github, spire] = await Promise.all([startFakeIssuer({ tls: true }), startFakeIssuer({ tls: true }), startFakeIssuer({ tls: true, alg: "ES256" })]);
});
afterAll(async () => Promise.all([k8s, github, spire].map((issuer) => issuer?.close())));

function trusted(fake: FakeIssuer, overrides: Partial<TrustedIssuer>): TrustedIssuer {
  return {
    issuer: fake.issuer,
    description: "",
    keySource: { kind: "discovery" },
    audiences: [],
    allowedAlgorithms: ["RS256", "ES256"],
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
}

function harness() {
  const issuers = [
    trusted(k8s, { audiences: ["tessera"] }),
    trusted(github, { audiences: ["https://github.com/acme"], maxTokenLifetimeSeconds: 3600, keySource: { kind: "jwks_uri", jwksUri: github.jwksUri } }),
    trusted(spire, { keySource: { kind: "spiffe", trustDomain: "prod.acme", bundleEndpoint: spire.bundleEndpoint, bundle: null } }),
  ];
  const clients = [
    testClient({ id: "payments-api", defaultScopes: ["read"], claimsTemplate: { workload: "{{assertion.sub}}", namespace: "{{assertion.kubernetes.io.namespace}}" } }),
    testClient({ id: "deployer", defaultScopes: ["write"], claimsTemplate: { workflow: "{{assertion.job_workflow_ref}}" } }),
    testClient({ id: "mesh-gateway", defaultScopes: ["read"] }),
  ];
  const policies = [
    federationPolicy({
      id: "k8s",
      issuer: k8s.issuer,
      clientId: "payments-api",
      subject: "system:serviceaccount:payments:*",
      claimConditions: [{ claim: "kubernetes.io.namespace", operator: "equals", values: ["payments"] }],
      copiedClaims: ["sub", "kubernetes.io.namespace"],
    }),
    federationPolicy({
      id: "gha",
      issuer: github.issuer,
      clientId: "deployer",
      subject: "repo:acme/*:ref:refs/heads/main",
      claimConditions: [
        { claim: "repository_owner_id", operator: "equals", values: ["4242"] },
        { claim: "job_workflow_ref", operator: "glob", values: ["acme/*/.github/workflows/deploy.yml@refs/heads/main"] },
      ],
      copiedClaims: ["job_workflow_ref"],
    }),
    federationPolicy({ id: "spiffe", issuer: spire.issuer, clientId: "mesh-gateway", subject: "spiffe://prod.acme/ns/mesh/*" }),
  ];
  // The spire issuer's id is its URL here; a JWT-SVID without iss would be found as spiffe://prod.acme.
  return federationHarness({ clients, issuers, policies, keys: new IssuerKeyCache({ fetchJson: outboundJsonFetcher(), now: () => new Date() }), now: () => new Date() });
}

describe("workload tokens as platforms mint them", () => {
  it("a Kubernetes projected service-account token, through the jwt-bearer grant", async () => {
    const { endpoint, issued } = harness();
    const assertion = await k8s.kubernetesToken({ namespace: "payments", serviceAccount: "api", audience: "tessera" });
    const answer = await endpoint.issue(tokenRequest({ grantType: JWT_BEARER_GRANT_TYPE, parameters: { assertion } }));
    expect(claimsOf(answer.accessToken)).toMatchObject({ sub: "payments-api", client_id: "payments-api", scope: "read", workload: "system:serviceaccount:payments:api", namespace: "payments" });
    expect(issued[0]).toMatchObject({ issuer: k8s.issuer, subject: "system:serviceaccount:payments:api", policyId: "k8s" });
    const otherNamespace = await k8s.kubernetesToken({ namespace: "billing", serviceAccount: "api", audience: "tessera" });
    await expect(endpoint.issue(tokenRequest({ grantType: JWT_BEARER_GRANT_TYPE, parameters: { assertion: otherNamespace } }))).rejects.toMatchObject({ code: "invalid_grant" });
  });

  it("a GitHub Actions OIDC token, through token exchange", async () => {
    const { endpoint } = harness();
    const subject_token = await github.githubActionsToken({ repository: "acme/payments", audience: "https://github.com/acme" });
    const answer = await endpoint.issue(tokenRequest({ grantType: TOKEN_EXCHANGE_GRANT_TYPE, parameters: { subject_token, subject_token_type: TOKEN_TYPE.jwt } }));
    expect(answer).toMatchObject({ clientId: "deployer", issuedTokenType: TOKEN_TYPE.accessToken });
    expect(claimsOf(answer.accessToken)).toMatchObject({ sub: "deployer", workflow: "acme/payments/.github/workflows/deploy.yml@refs/heads/main" });
    const pullRequest = await github.githubActionsToken({ repository: "acme/payments", ref: "refs/pull/7/merge", audience: "https://github.com/acme" });
    await expect(endpoint.issue(tokenRequest({ grantType: TOKEN_EXCHANGE_GRANT_TYPE, parameters: { subject_token: pullRequest, subject_token_type: TOKEN_TYPE.jwt } }))).rejects.toMatchObject({ code: "invalid_grant" });
  });

  it("a SPIFFE JWT-SVID, as client authentication (jwt-spiffe) for client credentials", async () => {
    const { endpoint } = harness();
    const svid = await spire.spiffeSvid({ trustDomain: "prod.acme", path: "/ns/mesh/sa/gateway", audience: ISSUER, withIssuer: true });
    const answer = await endpoint.issue(tokenRequest({ grantType: "client_credentials", credentials: { method: "spiffe_jwt", clientId: undefined, clientAssertionType: JWT_SPIFFE_ASSERTION_TYPE, clientAssertion: svid } }));
    expect(answer.clientId).toBe("mesh-gateway");
  });

  it("picks up a rotated issuer key without restart", async () => {
    const { endpoint } = harness();
    const before = await k8s.kubernetesToken({ namespace: "payments", serviceAccount: "api", audience: "tessera" });
    expect((await endpoint.issue(tokenRequest({ grantType: JWT_BEARER_GRANT_TYPE, parameters: { assertion: before } }))).clientId).toBe("payments-api");
    await k8s.rotateKey({ retire: true });
    const assertion = await k8s.kubernetesToken({ namespace: "payments", serviceAccount: "api", audience: "tessera" });
    expect((await endpoint.issue(tokenRequest({ grantType: JWT_BEARER_GRANT_TYPE, parameters: { assertion } }))).clientId).toBe("payments-api");
  });
});
