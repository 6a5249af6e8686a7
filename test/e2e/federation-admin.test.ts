/**
 * FederationService end to end, on both storages: trusted issuers, federation policies and
 * delegation policies created, read, paged, updated with field masks and etags, and deleted over
 * Connect and over @grpc/grpc-js; refused input leaves nothing behind; every change is audited;
 * the in-memory directory the token path reads follows each change, also on another replica.
 */
import { generateKeyPairSync } from "node:crypto";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ClaimConditionOperator } from "../../src/gen/tessera/v1/federation_pb.js";
import { FederationService } from "../../src/gen/tessera/v1/federation_service_pb.js";
import { adminApi, codeOf } from "../support/clients.js";
import { grpc, grpcClient, unary } from "../support/grpc-clients.js";
import { STORAGE_KINDS, startTestServer, type TestServer } from "../support/test-server.js";

function federationApi(server: TestServer) {
  return createClient(FederationService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }));
}

function publicJwk(): Record<string, string> {
  const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { ...(publicKey.export({ format: "jwk" }) as Record<string, string>), kid: "k1", alg: "ES256" };
}

function privateJwk(): Record<string, string> {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return privateKey.export({ format: "jwk" }) as Record<string, string>;
}

let issuerCounter = 0;
/** How long a change may take to reach another replica's memory here: generous, as the machine running the tests may be busy. */
const PROPAGATION = { timeout: 5_000 };

const uniqueIssuer = (label: string) => `https://${label}-${++issuerCounter}.issuers.test`;

describe.each(STORAGE_KINDS)("FederationService on %s storage", (storage) => {
  let server: TestServer;
  let auth: { headers: { authorization: string } };
  const api = () => federationApi(server);
  const auditActions = async () => (await adminApi(server).listAuditEvents({ pageSize: 500 }, auth)).events.map((event) => event.action);
  const createClientNamed = async (clientId: string) => adminApi(server).createClient({ clientId, name: clientId, scopes: ["s:read"] }, auth);

  beforeAll(async () => {
    server = await startTestServer({ storage });
    auth = { headers: { authorization: `Bearer ${await server.adminToken()}` } };
  });
  afterAll(async () => server?.destroy());

  describe("trusted issuers", () => {
    it("creates one with defaults filled in, gets it, and the directory holds it at once", async () => {
      const issuer = uniqueIssuer("k8s");
      const created = (await api().createTrustedIssuer({ trustedIssuer: { issuer, audiences: ["tessera"] } }, auth)).trustedIssuer!;
      expect(created).toMatchObject({ issuer, audiences: ["tessera"], jwksUri: "", singleUse: false, etag: 'W/"1"' });
      expect(created.allowedAlgorithms).toEqual(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]);
      expect(created.maxTokenLifetime?.seconds).toBe(86_400n);
      expect(created.clockTolerance?.seconds).toBe(60n);
      expect(created.maxTokenAge).toBeUndefined();
      expect((await api().getTrustedIssuer({ issuer }, auth)).trustedIssuer).toEqual(created);
      expect(server.federationDirectory.trustedIssuer(issuer)).toMatchObject({ issuer, keySource: { kind: "discovery" }, maxTokenLifetimeSeconds: 86_400 });
      expect(await codeOf(api().createTrustedIssuer({ trustedIssuer: { issuer } }, auth))).toBe(Code.AlreadyExists);
      expect(await codeOf(api().getTrustedIssuer({ issuer: uniqueIssuer("missing") }, auth))).toBe(Code.NotFound);
    });

    it("keeps each key source: jwks_uri, an inline JWKS, a SPIFFE bundle endpoint or bundle", async () => {
      const jwks = { keys: [publicJwk()] };
      const cases = [
        { jwksUri: "https://keys.example.test/jwks.json" },
        { jwks },
        { spiffe: { trustDomain: "prod.acme.test", bundleEndpoint: "https://bundle.acme.test/" } },
        { spiffe: { trustDomain: "prod.acme.test", bundle: jwks } },
      ];
      for (const fields of cases) {
        const issuer = uniqueIssuer("source");
        const created = (await api().createTrustedIssuer({ trustedIssuer: { issuer, ...fields, singleUse: true } }, auth)).trustedIssuer!;
        expect(created).toMatchObject(fields);
        expect(server.federationDirectory.trustedIssuer(issuer)?.singleUse).toBe(true);
      }
      const spiffe = server.federationDirectory.trustedIssuer(`https://source-${issuerCounter}.issuers.test`)!;
      expect(spiffe.keySource).toEqual({ kind: "spiffe", trustDomain: "prod.acme.test", bundleEndpoint: null, bundle: jwks });
    });

    it("refuses unsafe or malformed issuers with INVALID_ARGUMENT naming the field, and writes nothing", async () => {
      const before = (await api().listTrustedIssuers({ pageSize: 500 }, auth)).trustedIssuers.length;
      const auditBefore = (await auditActions()).length;
      const refusals: [Record<string, unknown>, string][] = [
        [{ allowedAlgorithms: ["none"] }, "allowed_algorithms"],
        [{ allowedAlgorithms: ["HS256"] }, "allowed_algorithms"],
        [{ jwks: { keys: [privateJwk()] } }, "jwks.keys[0]"],
        [{ jwks: { keys: [{ kty: "oct", k: "c2VjcmV0" }] } }, "jwks.keys[0]"],
        [{ jwks: { keys: [] } }, "jwks"],
        [{ jwksUri: "https://keys.test/", jwks: { keys: [publicJwk()] } }, "jwks"],
        [{ jwksUri: "ftp://keys.test/" }, "jwks_uri"],
        [{ maxTokenLifetime: { seconds: 8n * 86_400n } }, "max_token_lifetime"],
        [{ clockTolerance: { seconds: 301n } }, "clock_tolerance"],
        [{ audiences: Array.from({ length: 33 }, (_, i) => `aud-${i}`) }, "audiences"],
        [{ spiffe: { trustDomain: "prod.acme.test" } }, "spiffe.bundle_endpoint"],
      ];
      for (const [fields, field] of refusals) {
        const error = await api()
          .createTrustedIssuer({ trustedIssuer: { issuer: uniqueIssuer("bad"), ...fields } }, auth)
          .then(() => undefined, (reason: unknown) => reason as { code: Code; rawMessage: string });
        expect(error?.code, JSON.stringify(fields, (_, v) => (typeof v === "bigint" ? String(v) : v))).toBe(Code.InvalidArgument);
        expect(error!.rawMessage.startsWith(`${field}:`), error!.rawMessage).toBe(true);
      }
      for (const issuer of ["not a url", "https://issuer.test/#frag", `https://${"a".repeat(520)}.test`, "https://issuer.test/?q=1"]) {
        expect(await codeOf(api().createTrustedIssuer({ trustedIssuer: { issuer } }, auth)), issuer).toBe(Code.InvalidArgument);
      }
      expect((await api().listTrustedIssuers({ pageSize: 500 }, auth)).trustedIssuers.length).toBe(before);
      expect((await auditActions()).length).toBe(auditBefore);
    });

    it("pages through in creation order, refusing a foreign page token", async () => {
      const seen: string[] = [];
      let pageToken = "";
      let pages = 0;
      do {
        const page = await api().listTrustedIssuers({ pageSize: 2, pageToken }, auth);
        seen.push(...page.trustedIssuers.map((issuer) => issuer.issuer));
        pageToken = page.nextPageToken;
        pages++;
      } while (pageToken !== "");
      expect(pages).toBeGreaterThanOrEqual(3);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toEqual((await api().listTrustedIssuers({ pageSize: 500 }, auth)).trustedIssuers.map((issuer) => issuer.issuer));
      expect(await codeOf(api().listTrustedIssuers({ pageToken: "garbage" }, auth))).toBe(Code.InvalidArgument);
      expect(await codeOf(api().listTrustedIssuers({ pageSize: -1 }, auth))).toBe(Code.InvalidArgument);
    });

    it("updates the masked fields with the current etag, refuses a stale one, and deletes", async () => {
      const issuer = uniqueIssuer("update");
      const created = (await api().createTrustedIssuer({ trustedIssuer: { issuer, audiences: ["a"], description: "first" } }, auth)).trustedIssuer!;
      const updated = (
        await api().updateTrustedIssuer(
          {
            trustedIssuer: { issuer, etag: created.etag, audiences: ["b", "c"], description: "ignored", maxTokenLifetime: { seconds: 3600n } },
            updateMask: { paths: ["audiences", "max_token_lifetime"] },
          },
          auth,
        )
      ).trustedIssuer!;
      expect(updated).toMatchObject({ audiences: ["b", "c"], description: "first", etag: 'W/"2"' });
      expect(updated.maxTokenLifetime?.seconds).toBe(3600n);
      expect(server.federationDirectory.trustedIssuer(issuer)?.audiences).toEqual(["b", "c"]);
      expect(
        await codeOf(api().updateTrustedIssuer({ trustedIssuer: { issuer, etag: created.etag, audiences: ["x"] }, updateMask: { paths: ["audiences"] } }, auth)),
      ).toBe(Code.Aborted);
      expect(await codeOf(api().updateTrustedIssuer({ trustedIssuer: { issuer }, updateMask: { paths: ["issuer"] } }, auth))).toBe(Code.InvalidArgument);
      expect(await codeOf(api().updateTrustedIssuer({ trustedIssuer: { issuer }, updateMask: { paths: [] } }, auth))).toBe(Code.InvalidArgument);
      // The merged issuer is validated whole, with the same rules as on create.
      expect(
        await codeOf(api().updateTrustedIssuer({ trustedIssuer: { issuer, allowedAlgorithms: ["HS256"] }, updateMask: { paths: ["allowed_algorithms"] } }, auth)),
      ).toBe(Code.InvalidArgument);
      expect((await api().getTrustedIssuer({ issuer }, auth)).trustedIssuer!.etag).toBe('W/"2"');
      expect(await codeOf(api().deleteTrustedIssuer({ issuer, etag: created.etag }, auth))).toBe(Code.Aborted);
      await api().deleteTrustedIssuer({ issuer, etag: updated.etag }, auth);
      expect(await codeOf(api().getTrustedIssuer({ issuer }, auth))).toBe(Code.NotFound);
      expect(server.federationDirectory.trustedIssuer(issuer)).toBeUndefined();
      const actions = await auditActions();
      expect(actions).toEqual(expect.arrayContaining(["trusted_issuer.create", "trusted_issuer.update", "trusted_issuer.delete"]));
    });
  });

  describe("federation policies", () => {
    it("binds a trusted issuer to a client; refuses unknown issuers and clients, and writes nothing then", async () => {
      const issuer = uniqueIssuer("policy");
      await api().createTrustedIssuer({ trustedIssuer: { issuer } }, auth);
      await createClientNamed(`payments-${storage}`);
      const policy = {
        issuer,
        clientId: `payments-${storage}`,
        subject: "system:serviceaccount:payments:*",
        claimConditions: [
          { claim: "kubernetes.io.namespace", operator: ClaimConditionOperator.EQUALS, values: ["payments"] },
          { claim: "aud", operator: ClaimConditionOperator.ONE_OF, values: ["a", "b"] },
        ],
        copiedClaims: ["sub", "kubernetes.io.pod.name"],
      };
      const auditBefore = (await auditActions()).length;
      const unknownIssuer = await api()
        .createFederationPolicy({ federationPolicy: { ...policy, issuer: uniqueIssuer("untrusted") } }, auth)
        .catch((error: { code: Code; rawMessage: string }) => error);
      expect(unknownIssuer).toMatchObject({ code: Code.FailedPrecondition });
      expect((unknownIssuer as { rawMessage: string }).rawMessage).toMatch(/not a trusted issuer/);
      const unknownClient = await api()
        .createFederationPolicy({ federationPolicy: { ...policy, clientId: "no-such-client" } }, auth)
        .catch((error: { code: Code; rawMessage: string }) => error);
      expect(unknownClient).toMatchObject({ code: Code.NotFound });
      expect((unknownClient as { rawMessage: string }).rawMessage).toMatch(/client no-such-client/);
      for (const bad of [
        { subject: "" },
        { subject: "*" },
        { copiedClaims: ["scope"] },
        { claimConditions: [{ claim: "x", operator: ClaimConditionOperator.UNSPECIFIED, values: ["1"] }] },
        { claimConditions: [{ claim: "x", operator: ClaimConditionOperator.EQUALS, values: ["1", "2"] }] },
        { claimConditions: Array.from({ length: 17 }, () => ({ claim: "x", operator: ClaimConditionOperator.EQUALS, values: ["1"] })) },
      ]) {
        expect(await codeOf(api().createFederationPolicy({ federationPolicy: { ...policy, ...bad } }, auth)), JSON.stringify(bad)).toBe(Code.InvalidArgument);
      }
      expect((await api().listFederationPolicies({ issuer }, auth)).federationPolicies).toEqual([]);
      expect((await auditActions()).length).toBe(auditBefore);

      const created = (await api().createFederationPolicy({ federationPolicy: policy }, auth)).federationPolicy!;
      expect(created.federationPolicyId).toMatch(/^fp_/);
      expect(created).toMatchObject({ ...policy, etag: 'W/"1"' });
      expect((await api().getFederationPolicy({ federationPolicyId: created.federationPolicyId }, auth)).federationPolicy).toEqual(created);
      expect(server.federationDirectory.federationPoliciesOf(issuer)).toEqual([
        expect.objectContaining({ id: created.federationPolicyId, subject: policy.subject, copiedClaims: policy.copiedClaims }),
      ]);
      // A trusted issuer named by a policy cannot go.
      expect(await codeOf(api().deleteTrustedIssuer({ issuer }, auth))).toBe(Code.FailedPrecondition);
      expect(server.federationDirectory.trustedIssuer(issuer)).toBeDefined();

      const updated = (
        await api().updateFederationPolicy(
          { federationPolicy: { federationPolicyId: created.federationPolicyId, etag: created.etag, subject: "repo:acme/*:ref:refs/heads/main" }, updateMask: { paths: ["subject"] } },
          auth,
        )
      ).federationPolicy!;
      expect(updated).toMatchObject({ subject: "repo:acme/*:ref:refs/heads/main", copiedClaims: policy.copiedClaims, etag: 'W/"2"' });
      expect(
        await codeOf(
          api().updateFederationPolicy({ federationPolicy: { federationPolicyId: created.federationPolicyId, etag: created.etag, subject: "x" }, updateMask: { paths: ["subject"] } }, auth),
        ),
      ).toBe(Code.Aborted);
      expect(
        await codeOf(
          api().updateFederationPolicy(
            { federationPolicy: { federationPolicyId: created.federationPolicyId, issuer: uniqueIssuer("untrusted") }, updateMask: { paths: ["issuer"] } },
            auth,
          ),
        ),
      ).toBe(Code.FailedPrecondition);
      expect(server.federationDirectory.federationPoliciesOf(issuer)[0]?.subject).toBe("repo:acme/*:ref:refs/heads/main");

      await api().deleteFederationPolicy({ federationPolicyId: created.federationPolicyId, etag: updated.etag }, auth);
      expect(await codeOf(api().getFederationPolicy({ federationPolicyId: created.federationPolicyId }, auth))).toBe(Code.NotFound);
      expect(server.federationDirectory.federationPoliciesOf(issuer)).toEqual([]);
      await api().deleteTrustedIssuer({ issuer }, auth);
      expect(await auditActions()).toEqual(
        expect.arrayContaining(["federation_policy.create", "federation_policy.update", "federation_policy.delete"]),
      );
    });

    it("filters and pages by issuer and client, and deleting the client deletes its policies", async () => {
      const issuer = uniqueIssuer("filter");
      await api().createTrustedIssuer({ trustedIssuer: { issuer } }, auth);
      const clientA = `filter-a-${storage}`;
      const clientB = `filter-b-${storage}`;
      await createClientNamed(clientA);
      await createClientNamed(clientB);
      for (let i = 0; i < 5; i++) {
        await api().createFederationPolicy({ federationPolicy: { issuer, clientId: i < 3 ? clientA : clientB, subject: `workload-${i}` } }, auth);
      }
      const seen: string[] = [];
      let pageToken = "";
      do {
        const page = await api().listFederationPolicies({ issuer, pageSize: 2, pageToken }, auth);
        seen.push(...page.federationPolicies.map((policy) => policy.subject));
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      expect(seen).toEqual(["workload-0", "workload-1", "workload-2", "workload-3", "workload-4"]);
      expect((await api().listFederationPolicies({ clientId: clientB }, auth)).federationPolicies.map((policy) => policy.subject)).toEqual([
        "workload-3",
        "workload-4",
      ]);
      const first = await api().listFederationPolicies({ issuer, pageSize: 1 }, auth);
      expect(await codeOf(api().listFederationPolicies({ clientId: clientA, pageSize: 1, pageToken: first.nextPageToken }, auth))).toBe(Code.InvalidArgument);

      await adminApi(server).deleteClient({ clientId: clientA }, auth);
      expect((await api().listFederationPolicies({ issuer }, auth)).federationPolicies.map((policy) => policy.clientId)).toEqual([clientB, clientB]);
      await vi.waitFor(() => expect(server.federationDirectory.federationPoliciesOf(issuer).map((policy) => policy.clientId)).toEqual([clientB, clientB]), PROPAGATION);
    });
  });

  describe("delegation policies", () => {
    it("creates, reads, lists by actor, updates with etags and deletes; impersonation is off by default", async () => {
      const actor = `actor-${storage}`;
      await createClientNamed(actor);
      expect(await codeOf(api().createDelegationPolicy({ delegationPolicy: { clientId: "no-such-client", audiences: ["b"] } }, auth))).toBe(Code.NotFound);
      expect(await codeOf(api().createDelegationPolicy({ delegationPolicy: { clientId: actor, scopes: ["bad scope"] } }, auth))).toBe(Code.InvalidArgument);
      const created = (
        await api().createDelegationPolicy({ delegationPolicy: { clientId: actor, subjectAudiences: ["svc-a"], audiences: ["svc-b"], scopes: ["orders:read"] } }, auth)
      ).delegationPolicy!;
      expect(created).toMatchObject({ clientId: actor, allowImpersonation: false, audiences: ["svc-b"], etag: 'W/"1"' });
      expect(created.delegationPolicyId).toMatch(/^dp_/);
      expect(server.federationDirectory.delegationPoliciesOf(actor)).toEqual([expect.objectContaining({ id: created.delegationPolicyId, scopes: ["orders:read"] })]);
      expect((await api().listDelegationPolicies({ clientId: actor }, auth)).delegationPolicies).toEqual([created]);
      const updated = (
        await api().updateDelegationPolicy(
          { delegationPolicy: { delegationPolicyId: created.delegationPolicyId, etag: created.etag, allowImpersonation: true }, updateMask: { paths: ["allow_impersonation"] } },
          auth,
        )
      ).delegationPolicy!;
      expect(updated).toMatchObject({ allowImpersonation: true, scopes: ["orders:read"], etag: 'W/"2"' });
      expect(
        await codeOf(
          api().updateDelegationPolicy({ delegationPolicy: { delegationPolicyId: created.delegationPolicyId, etag: created.etag }, updateMask: { paths: ["scopes"] } }, auth),
        ),
      ).toBe(Code.Aborted);
      expect(await codeOf(api().getDelegationPolicy({ delegationPolicyId: "Not an id!" }, auth))).toBe(Code.InvalidArgument);
      // A well-formed id of the caller-chosen kind that names nothing.
      expect(await codeOf(api().getDelegationPolicy({ delegationPolicyId: "nonsense" }, auth))).toBe(Code.NotFound);
      await api().deleteDelegationPolicy({ delegationPolicyId: created.delegationPolicyId }, auth);
      expect(server.federationDirectory.delegationPoliciesOf(actor)).toEqual([]);
      expect(await auditActions()).toEqual(expect.arrayContaining(["delegation_policy.create", "delegation_policy.update", "delegation_policy.delete"]));
    });
  });

  describe("authorization", () => {
    it("answers UNAUTHENTICATED without a token and PERMISSION_DENIED without tessera:admin", async () => {
      expect(await codeOf(api().listTrustedIssuers({}))).toBe(Code.Unauthenticated);
      expect(await codeOf(api().createTrustedIssuer({ trustedIssuer: { issuer: uniqueIssuer("anon") } }))).toBe(Code.Unauthenticated);
      const introspectOnly = { headers: { authorization: `Bearer ${await server.adminToken("tessera:introspect")}` } };
      expect(await codeOf(api().listTrustedIssuers({}, introspectOnly))).toBe(Code.PermissionDenied);
      expect(await codeOf(api().createDelegationPolicy({ delegationPolicy: { clientId: "x" } }, introspectOnly))).toBe(Code.PermissionDenied);
      expect(await codeOf(api().listTrustedIssuers({}, { headers: { authorization: "Bearer not-a-token" } }))).toBe(Code.Unauthenticated);
    });
  });

  describe("over @grpc/grpc-js", () => {
    it("creates, reads, lists, updates and deletes a trusted issuer and a policy; refuses a call without a token", async () => {
      const client = grpcClient(`127.0.0.1:${server.port}`, "FederationService");
      const metadata = new grpc.Metadata();
      metadata.set("authorization", auth.headers.authorization);
      try {
        const issuer = uniqueIssuer("grpc");
        const created = await unary<{ trustedIssuer: { issuer: string; etag: string; maxTokenLifetime: { seconds: string } } }>(
          client,
          "createTrustedIssuer",
          { trustedIssuer: { issuer, jwks: { fields: { keys: { listValue: { values: [] } } } } } },
          metadata,
        ).catch((error: grpc.ServiceError) => error);
        // An empty inline JWKS is refused: the Struct travelled and was read.
        expect((created as grpc.ServiceError).code).toBe(grpc.status.INVALID_ARGUMENT);
        const made = await unary<{ trustedIssuer: { issuer: string; etag: string; maxTokenLifetime: { seconds: string } } }>(
          client,
          "createTrustedIssuer",
          { trustedIssuer: { issuer, maxTokenLifetime: { seconds: 600 } } },
          metadata,
        );
        expect(made.trustedIssuer).toMatchObject({ issuer, etag: 'W/"1"', maxTokenLifetime: { seconds: "600" } });
        expect((await unary<{ trustedIssuer: { issuer: string } }>(client, "getTrustedIssuer", { issuer }, metadata)).trustedIssuer.issuer).toBe(issuer);
        const listed = await unary<{ trustedIssuers: { issuer: string }[] }>(client, "listTrustedIssuers", { pageSize: 500 }, metadata);
        expect(listed.trustedIssuers.map((entry) => entry.issuer)).toContain(issuer);
        const updated = await unary<{ trustedIssuer: { etag: string; audiences: string[] } }>(
          client,
          "updateTrustedIssuer",
          { trustedIssuer: { issuer, etag: made.trustedIssuer.etag, audiences: ["grpc-aud"] }, updateMask: { paths: ["audiences"] } },
          metadata,
        );
        expect(updated.trustedIssuer).toMatchObject({ etag: 'W/"2"', audiences: ["grpc-aud"] });
        const stale = await unary(client, "updateTrustedIssuer", { trustedIssuer: { issuer, etag: 'W/"1"' }, updateMask: { paths: ["audiences"] } }, metadata).catch(
          (error: grpc.ServiceError) => error,
        );
        expect((stale as grpc.ServiceError).code).toBe(grpc.status.ABORTED);

        await adminApi(server).createClient({ clientId: `grpc-${storage}`, name: "grpc" }, auth);
        const policy = await unary<{ federationPolicy: { federationPolicyId: string; claimConditions: { operator: string }[] } }>(
          client,
          "createFederationPolicy",
          { federationPolicy: { issuer, clientId: `grpc-${storage}`, subject: "spiffe://prod.acme/ns/payments/*", claimConditions: [{ claim: "x", operator: "CLAIM_CONDITION_OPERATOR_GLOB", values: ["a*"] }] } },
          metadata,
        );
        expect(policy.federationPolicy.claimConditions).toEqual([expect.objectContaining({ operator: "CLAIM_CONDITION_OPERATOR_GLOB" })]);
        await unary(client, "deleteFederationPolicy", { federationPolicyId: policy.federationPolicy.federationPolicyId }, metadata);
        await unary(client, "deleteTrustedIssuer", { issuer, etag: updated.trustedIssuer.etag }, metadata);
        const gone = await unary(client, "getTrustedIssuer", { issuer }, metadata).catch((error: grpc.ServiceError) => error);
        expect((gone as grpc.ServiceError).code).toBe(grpc.status.NOT_FOUND);
        const anonymous = await unary(client, "listTrustedIssuers", {}).catch((error: grpc.ServiceError) => error);
        expect((anonymous as grpc.ServiceError).code).toBe(grpc.status.UNAUTHENTICATED);
      } finally {
        client.close();
      }
    });
  });
});

describe("FederationService through connect-es alone (TESSERA_LEAN_GRPC=false), over gRPC and gRPC-Web", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ storage: "embedded", env: { TESSERA_LEAN_GRPC: "false" } });
  });
  afterAll(async () => server?.destroy());

  it("serves grpc-js and gRPC-Web callers the same answers", async () => {
    const authorization = `Bearer ${await server.adminToken()}`;
    const client = grpcClient(`127.0.0.1:${server.port}`, "FederationService");
    const metadata = new grpc.Metadata();
    metadata.set("authorization", authorization);
    try {
      const issuer = uniqueIssuer("connect-es");
      await unary(client, "createTrustedIssuer", { trustedIssuer: { issuer, audiences: ["x"] } }, metadata);
      const refused = await unary(client, "createTrustedIssuer", { trustedIssuer: { issuer: uniqueIssuer("bad"), allowedAlgorithms: ["none"] } }, metadata).catch(
        (error: grpc.ServiceError) => error,
      );
      expect((refused as grpc.ServiceError).code).toBe(grpc.status.INVALID_ARGUMENT);
      const anonymous = await unary(client, "getTrustedIssuer", { issuer }).catch((error: grpc.ServiceError) => error);
      expect((anonymous as grpc.ServiceError).code).toBe(grpc.status.UNAUTHENTICATED);

      const web = createClient(FederationService, createGrpcWebTransport({ baseUrl: server.url, httpVersion: "1.1" }));
      expect((await web.getTrustedIssuer({ issuer }, { headers: { authorization } })).trustedIssuer?.audiences).toEqual(["x"]);
      expect(await codeOf(web.listTrustedIssuers({}))).toBe(Code.Unauthenticated);
    } finally {
      client.close();
    }
  });
});

describe("FederationService across two replicas on one PostgreSQL", () => {
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

  it("shows a change made on one replica in the other's directory, without a restart", async () => {
    const auth = { headers: { authorization: `Bearer ${await first.adminToken()}` } };
    const issuer = uniqueIssuer("replica");
    await federationApi(first).createTrustedIssuer({ trustedIssuer: { issuer, audiences: ["one"] } }, auth);
    await adminApi(first).createClient({ clientId: "replica-client", name: "replica" }, auth);
    const policy = (await federationApi(first).createFederationPolicy({ federationPolicy: { issuer, clientId: "replica-client", subject: "ci:*" } }, auth))
      .federationPolicy!;
    await vi.waitFor(() => {
      expect(second.federationDirectory.trustedIssuer(issuer)?.audiences).toEqual(["one"]);
      expect(second.federationDirectory.federationPoliciesOf(issuer).map((entry) => entry.id)).toEqual([policy.federationPolicyId]);
    }, PROPAGATION);
    await federationApi(first).updateTrustedIssuer({ trustedIssuer: { issuer, audiences: ["two"] }, updateMask: { paths: ["audiences"] } }, auth);
    await vi.waitFor(() => expect(second.federationDirectory.trustedIssuer(issuer)?.audiences).toEqual(["two"]), PROPAGATION);
    // Deleting the client on the first replica takes its policies off the second's directory too.
    await adminApi(first).deleteClient({ clientId: "replica-client" }, auth);
    await vi.waitFor(() => expect(second.federationDirectory.federationPoliciesOf(issuer)).toEqual([]), PROPAGATION);
  });
});
