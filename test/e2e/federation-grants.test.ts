/**
 * The three ways in for a workload's own token, end to end through the real server on both
 * storages: trusted issuers and policies created over FederationService, then a Kubernetes
 * projected service-account token through the jwt-bearer grant, a GitHub Actions token through
 * token exchange, and a SPIFFE JWT-SVID as client authentication, over HTTP and gRPC. The issued
 * token verifies against /keys and carries the client's scopes and only the allowlisted claims;
 * a deactivated client gets nothing more at once; every issuance is audited.
 */
import { randomUUID } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ClaimConditionOperator } from "../../src/gen/tessera/v1/federation_pb.js";
import { FederationService } from "../../src/gen/tessera/v1/federation_service_pb.js";
import { GrantType } from "../../src/gen/tessera/v1/token_service_pb.js";
import { adminApi, registerClient } from "../support/clients.js";
import { grpcClient, unary } from "../support/grpc-clients.js";
import { STORAGE_KINDS, startTestServer, type TestServer } from "../support/test-server.js";

const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt";
const SPIFFE_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-spiffe";

interface Signer {
  readonly jwks: { keys: JWK[] };
  sign(claims: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
}

async function signer(alg: "RS256" | "ES256"): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  return {
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg }] },
    sign: (claims, header = {}) => new SignJWT(claims).setProtectedHeader({ alg, kid, ...header }).sign(privateKey),
  };
}

const now = () => Math.floor(Date.now() / 1000);

describe.each(STORAGE_KINDS)("workload identity federation end to end, on %s storage", (storage) => {
  let server: TestServer;
  let auth: { headers: { authorization: string } };
  let k8s: Signer;
  let github: Signer;
  let spire: Signer;
  const K8S = `https://k8s-${randomUUID().slice(0, 8)}.clusters.test`;
  const GITHUB = `https://gha-${randomUUID().slice(0, 8)}.actions.test`;
  const SPIRE = `https://spire-${randomUUID().slice(0, 8)}.acme.test`;
  let paymentsId: string;
  let deployerId: string;
  let meshId: string;

  const kubernetesToken = (namespace = "payments") =>
    k8s.sign({
      aud: ["tessera"],
      exp: now() + 3600,
      iat: now(),
      nbf: now(),
      iss: K8S,
      jti: randomUUID(),
      "kubernetes.io": { namespace, pod: { name: "api-7c9", uid: randomUUID() }, serviceaccount: { name: "api", uid: randomUUID() } },
      sub: `system:serviceaccount:${namespace}:api`,
    });
  const githubToken = () =>
    github.sign(
      {
        jti: randomUUID(),
        sub: "repo:acme/payments:ref:refs/heads/main",
        aud: "https://github.com/acme",
        ref: "refs/heads/main",
        repository: "acme/payments",
        repository_owner: "acme",
        repository_owner_id: "4242",
        job_workflow_ref: "acme/payments/.github/workflows/deploy.yml@refs/heads/main",
        iss: GITHUB,
        nbf: now() - 5,
        iat: now(),
        exp: now() + 300,
      },
      { typ: "JWT" },
    );
  const svid = () => spire.sign({ sub: "spiffe://prod.acme.test/ns/mesh/sa/gateway", aud: [server.config.issuer], exp: now() + 300, iat: now() }, { typ: "JWT" });

  async function keys() {
    return createLocalJWKSet((await (await fetch(`${server.url}/keys`)).json()) as { keys: JWK[] });
  }

  async function postToken(form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${server.url}/oauth/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(form) });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  beforeAll(async () => {
    server = await startTestServer({ storage });
    auth = { headers: { authorization: `Bearer ${await server.adminToken()}` } };
    [k8s, github, spire] = await Promise.all([signer("RS256"), signer("ES256"), signer("ES256")]);
    const federation = createClient(FederationService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }));
    await federation.createTrustedIssuer({ trustedIssuer: { issuer: K8S, jwks: k8s.jwks, audiences: ["tessera"] } }, auth);
    await federation.createTrustedIssuer({ trustedIssuer: { issuer: GITHUB, jwks: github.jwks, audiences: ["https://github.com/acme"] } }, auth);
    await federation.createTrustedIssuer({ trustedIssuer: { issuer: SPIRE, spiffe: { trustDomain: "prod.acme.test", bundle: { keys: spire.jwks.keys.map((key) => ({ ...key, use: "jwt-svid" })) } } } }, auth);
    paymentsId = (
      await registerClient(server, {
        name: "payments-api",
        scopes: ["payments:read", "payments:write"],
        defaultScopes: ["payments:read"],
        claimsTemplate: { workload: "{{assertion.sub}}", namespace: "{{assertion.kubernetes.io.namespace}}", pod: "{{assertion.kubernetes.io.pod.name}}" },
      })
    ).clientId;
    deployerId = (await registerClient(server, { name: "deployer", scopes: ["deploy"] })).clientId;
    meshId = (await registerClient(server, { name: "mesh-gateway", scopes: ["mesh:read"] })).clientId;
    await federation.createFederationPolicy(
      {
        federationPolicy: {
          issuer: K8S,
          clientId: paymentsId,
          subject: "system:serviceaccount:payments:*",
          claimConditions: [{ claim: "kubernetes.io.namespace", operator: ClaimConditionOperator.EQUALS, values: ["payments"] }],
          copiedClaims: ["sub", "kubernetes.io.namespace"],
        },
      },
      auth,
    );
    await federation.createFederationPolicy(
      {
        federationPolicy: {
          issuer: GITHUB,
          clientId: deployerId,
          subject: "repo:acme/*:ref:refs/heads/main",
          claimConditions: [{ claim: "repository_owner_id", operator: ClaimConditionOperator.EQUALS, values: ["4242"] }],
        },
      },
      auth,
    );
    await federation.createFederationPolicy({ federationPolicy: { issuer: SPIRE, clientId: meshId, subject: "spiffe://prod.acme.test/ns/mesh/*" } }, auth);
  });
  afterAll(async () => server?.destroy());

  it("a Kubernetes service-account token gets the client's token through the jwt-bearer grant over HTTP, verifiable against /keys", async () => {
    const answer = await postToken({ grant_type: JWT_BEARER, assertion: await kubernetesToken() });
    expect(answer.status).toBe(200);
    const { payload, protectedHeader } = await jwtVerify(answer.body.access_token as string, await keys(), { issuer: server.config.issuer });
    expect(protectedHeader.typ).toBe("at+jwt");
    expect(payload).toMatchObject({ sub: paymentsId, client_id: paymentsId, scope: "payments:read", workload: "system:serviceaccount:payments:api", namespace: "payments" });
    expect(payload).not.toHaveProperty("pod");
    const refused = await postToken({ grant_type: JWT_BEARER, assertion: await kubernetesToken("billing") });
    expect(refused).toEqual({ status: 400, body: { error: "invalid_grant", error_description: "no federation policy matches the assertion" } });
  });

  it("a GitHub Actions token gets the client's token through token exchange over HTTP", async () => {
    const answer = await postToken({ grant_type: TOKEN_EXCHANGE, subject_token: await githubToken(), subject_token_type: JWT_TYPE, scope: "deploy" });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ issued_token_type: "urn:ietf:params:oauth:token-type:access_token", token_type: "Bearer", scope: "deploy" });
    const { payload } = await jwtVerify(answer.body.access_token as string, await keys());
    expect(payload).toMatchObject({ sub: deployerId, client_id: deployerId, scope: "deploy" });
  });

  it("a SPIFFE JWT-SVID authenticates its client for client credentials over HTTP", async () => {
    const answer = await postToken({ grant_type: "client_credentials", client_assertion_type: SPIFFE_ASSERTION, client_assertion: await svid() });
    expect(answer.status).toBe(200);
    expect((await jwtVerify(answer.body.access_token as string, await keys())).payload).toMatchObject({ sub: meshId, scope: "mesh:read" });
  });

  it("each way in works over gRPC too", async () => {
    const tokens = grpcClient(`127.0.0.1:${server.port}`, "TokenService");
    try {
      const bearer = await unary<{ accessToken: string }>(tokens, "issueToken", { grantType: GrantType.JWT_BEARER, assertion: await kubernetesToken() });
      expect((await jwtVerify(bearer.accessToken, await keys())).payload).toMatchObject({ client_id: paymentsId, namespace: "payments" });
      const exchanged = await unary<{ accessToken: string; issuedTokenType: string }>(tokens, "issueToken", {
        grantType: GrantType.TOKEN_EXCHANGE,
        subjectToken: await githubToken(),
        subjectTokenType: JWT_TYPE,
      });
      expect(exchanged.issuedTokenType).toBe("urn:ietf:params:oauth:token-type:access_token");
      expect((await jwtVerify(exchanged.accessToken, await keys())).payload).toMatchObject({ client_id: deployerId });
      const spiffe = await unary<{ accessToken: string }>(tokens, "issueToken", {
        grantType: GrantType.CLIENT_CREDENTIALS,
        clientAssertion: { assertionType: SPIFFE_ASSERTION, assertion: await svid() },
      });
      expect((await jwtVerify(spiffe.accessToken, await keys())).payload).toMatchObject({ client_id: meshId });
    } finally {
      tokens.close();
    }
  });

  it("audits every federated issuance with issuer, subject and policy", async () => {
    await vi.waitFor(async () => {
      const events = (await adminApi(server).listAuditEvents({ pageSize: 500 }, auth)).events.filter((event) => event.action === "federation.token_issued");
      expect(events.length).toBeGreaterThan(0);
      const details = events.map((event) => event.details as Record<string, unknown>);
      expect(details).toEqual(expect.arrayContaining([expect.objectContaining({ way: "jwt_bearer", issuer: K8S, subject: "system:serviceaccount:payments:api" })]));
      expect(details.every((detail) => typeof detail.federationPolicyId === "string" && detail.federationPolicyId !== "")).toBe(true);
    }, { timeout: 5_000 });
  });

  it("counts issuances and refusals by issuer in /metrics, unknown issuers under one label", async () => {
    await postToken({ grant_type: JWT_BEARER, assertion: await k8s.sign({ iss: `https://nobody-${randomUUID()}.test`, sub: "x", aud: "tessera", exp: now() + 60 }) });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`tessera_federated_issued_total\\{issuer="${K8S.replace(/[.]/g, "\\.")}",way="jwt_bearer"\\} [1-9]`));
    expect(metrics).toMatch(/tessera_federated_refused_total\{issuer="unknown",way="jwt_bearer",reason="unknown_issuer"\} [1-9]/);
  });

  it("stops issuing to a deactivated client at once", async () => {
    const client = (await adminApi(server).getClient({ clientId: deployerId }, auth)).client!;
    await adminApi(server).deactivateClient({ clientId: deployerId, etag: client.etag }, auth);
    const refused = await postToken({ grant_type: TOKEN_EXCHANGE, subject_token: await githubToken(), subject_token_type: JWT_TYPE });
    expect(refused).toEqual({ status: 400, body: { error: "invalid_grant", error_description: "no federation policy matches the assertion" } });
  });
});

describe("workload identity federation across two replicas on one PostgreSQL", () => {
  let first: TestServer;
  let second: TestServer;

  beforeAll(async () => {
    first = await startTestServer({ storage: "postgres" });
    second = await startTestServer({ storage: "postgres", reuse: { dataDir: first.dataDir, databaseUrl: first.databaseUrl } });
  }, 60_000);
  afterAll(async () => {
    await second?.stop();
    await first?.destroy();
  });

  it("issues on the other replica what one replica configured, and stops there as soon as the client is deactivated", async () => {
    const auth = { headers: { authorization: `Bearer ${await first.adminToken()}` } };
    const issuer = `https://replica-${randomUUID().slice(0, 8)}.clusters.test`;
    const k8s = await signer("ES256");
    await createClient(FederationService, createConnectTransport({ baseUrl: first.url, httpVersion: "1.1" })).createTrustedIssuer({ trustedIssuer: { issuer, jwks: k8s.jwks, audiences: ["tessera"] } }, auth);
    const { clientId } = await registerClient(first, { name: "replicated", scopes: ["r"] });
    await createClient(FederationService, createConnectTransport({ baseUrl: first.url, httpVersion: "1.1" })).createFederationPolicy({ federationPolicy: { issuer, clientId, subject: "system:serviceaccount:*" } }, auth);
    const request = async () =>
      (
        await fetch(`${second.url}/oauth/token`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: await k8s.sign({ iss: issuer, sub: "system:serviceaccount:a:b", aud: "tessera", iat: now(), exp: now() + 600 }) }),
        })
      ).status;
    await vi.waitFor(async () => expect(await request()).toBe(200), { timeout: 5_000 });
    const client = (await adminApi(first).getClient({ clientId }, auth)).client!;
    await adminApi(first).deactivateClient({ clientId, etag: client.etag }, auth);
    await vi.waitFor(async () => expect(await request()).toBe(400), { timeout: 5_000 });
  });
});
