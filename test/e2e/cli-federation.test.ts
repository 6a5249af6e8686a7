/**
 * `tessera trusted-issuer|federation-policy|delegation-policy …` as a script runs them:
 * bin/tessera.cjs in a child process against a real server, judged only by stdout, stderr and
 * the exit code. Each run costs a tsx start-up, so the runs are few and carry several checks each.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminCliEnv, runCli, runCliJson } from "../support/cli.js";
import { adminApi } from "../support/clients.js";
import { ADMIN_CLIENT, startTestServer, type TestServer } from "../support/test-server.js";


describe("tessera CLI for federation", () => {
  let server: TestServer;
  let env: Record<string, string>;
  let dir: string;

  beforeAll(async () => {
    server = await startTestServer({ storage: "embedded" });
    env = adminCliEnv(server);
    dir = mkdtempSync(path.join(tmpdir(), "tessera-cli-federation-"));
    const auth = { headers: { authorization: `Bearer ${await server.adminToken()}` } };
    await adminApi(server).createClient({ clientId: "payments", name: "payments", scopes: ["orders:read"] }, auth);
  });
  afterAll(async () => {
    await server?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const tessera = (...args: string[]) => runCli(env, ...args);

  const tesseraJson = <T>(...args: string[]) => runCliJson<T>(env, ...args);

  it("documents the condition syntax in help", async () => {
    const help = await tessera("federation-policy", "create", "--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("claim~=glob");
    expect(help.stdout).toContain("'claim in a,b,c'");
    const group = await tessera("trusted-issuer", "--help");
    expect(group.stdout).toMatch(/trusted-issuer create/);
  });

  it("scripts a trusted issuer, a federation policy and a delegation policy from creation to deletion", async () => {
    const issuer = "https://kubernetes.default.svc.cluster.local";
    const jwksFile = path.join(dir, "jwks.json");
    const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...publicKey.export({ format: "jwk" }), kid: "cluster-1" }] }));

    const created = await tesseraJson<{ trustedIssuer: { issuer: string; audiences: string[]; allowedAlgorithms: string[]; maxTokenLifetime: string; singleUse: boolean; jwks: { keys: unknown[] } } }>(
      "trusted-issuer", "create", "--issuer", issuer, "--jwks-file", jwksFile, "--audience", "tessera", "--audience", "sts",
      "--algorithm", "ES256", "--max-token-lifetime", "1h", "--single-use",
    );
    expect(created.trustedIssuer).toMatchObject({ issuer, audiences: ["tessera", "sts"], allowedAlgorithms: ["ES256"], maxTokenLifetime: "3600s", singleUse: true });
    expect(created.trustedIssuer.jwks.keys).toHaveLength(1);

    const refused = await tessera("trusted-issuer", "create", "--issuer", "https://other.test", "--algorithm", "HS256");
    expect(refused.code).toBe(6);
    expect(refused.stderr).toMatch(/allowed_algorithms/);

    const policy = await tesseraJson<{ federationPolicy: { federationPolicyId: string; etag: string; subject: string; claimConditions: unknown[]; copiedClaims: string[] } }>(
      "federation-policy", "create", "--issuer", issuer, "--client", "payments", "--subject", "system:serviceaccount:payments:*",
      "--condition", "kubernetes.io.namespace=payments", "--condition", "kubernetes.io.pod.name~=api-*", "--condition", "env in prod, stage",
      "--copy-claim", "sub",
    );
    expect(policy.federationPolicy).toMatchObject({
      subject: "system:serviceaccount:payments:*",
      claimConditions: [
        { claim: "kubernetes.io.namespace", operator: "CLAIM_CONDITION_OPERATOR_EQUALS", values: ["payments"] },
        { claim: "kubernetes.io.pod.name", operator: "CLAIM_CONDITION_OPERATOR_GLOB", values: ["api-*"] },
        { claim: "env", operator: "CLAIM_CONDITION_OPERATOR_ONE_OF", values: ["prod", "stage"] },
      ],
      copiedClaims: ["sub"],
    });
    const id = policy.federationPolicy.federationPolicyId;

    const listed = await tessera("federation-policy", "list", "--issuer", issuer);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain("kubernetes.io.namespace=payments; kubernetes.io.pod.name~=api-*; env in prod,stage");

    const updated = await tesseraJson<{ federationPolicy: { etag: string; subject: string; copiedClaims: string[] } }>(
      "federation-policy", "update", id, "--subject", "system:serviceaccount:payments:api", "--etag", policy.federationPolicy.etag,
    );
    expect(updated.federationPolicy).toMatchObject({ subject: "system:serviceaccount:payments:api", copiedClaims: ["sub"], etag: 'W/"2"' });
    const stale = await tessera("federation-policy", "update", id, "--subject", "x:*", "--etag", policy.federationPolicy.etag);
    expect(stale.code).toBe(4);

    const inUse = await tessera("trusted-issuer", "delete", issuer);
    expect(inUse.code).toBe(6);
    expect(inUse.stderr).toMatch(/federation polic/);

    const delegation = await tesseraJson<{ delegationPolicy: { delegationPolicyId: string; audiences: string[]; scopes: string[]; allowImpersonation: boolean } }>(
      "delegation-policy", "create", "--client", "payments", "--subject-audience", "payments-api", "--audience", "ledger", "--scope", "orders:read",
      "--allow-impersonation",
    );
    expect(delegation.delegationPolicy).toMatchObject({ audiences: ["ledger"], scopes: ["orders:read"], allowImpersonation: true });
    const off = await tesseraJson<{ delegationPolicy: { allowImpersonation: boolean; audiences: string[] } }>(
      "delegation-policy", "update", delegation.delegationPolicy.delegationPolicyId, "--no-allow-impersonation",
    );
    expect(off.delegationPolicy).toMatchObject({ allowImpersonation: false, audiences: ["ledger"] });

    expect((await tessera("delegation-policy", "delete", delegation.delegationPolicy.delegationPolicyId)).code).toBe(0);
    expect((await tessera("federation-policy", "delete", id)).code).toBe(0);
    const deleted = await tessera("trusted-issuer", "delete", issuer);
    expect(deleted).toMatchObject({ code: 0, stdout: `deleted trusted issuer ${issuer}\n` });
    expect((await tessera("trusted-issuer", "get", issuer)).code).toBe(3);
  });
});
