/**
 * Federated grants used by clients nobody here wrote: Python authlib's AssertionSession (the
 * jwt-bearer grant, RFC 7523 §2.1, on Debian's python3-authlib) and openid-client's generic grant
 * request (token exchange, RFC 8693), against a running server whose trusted issuers and policies
 * were made over FederationService.
 */
import { execFile } from "node:child_process";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createLocalJWKSet, jwtVerify, type JWK } from "jose";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FederationService } from "../../src/gen/tessera/v1/federation_service_pb.js";
import { registerClient } from "../support/clients.js";
import { ensureDebianPackages } from "../support/debian-packages.js";
import { startFakeIssuer, type FakeIssuer } from "../support/fake-issuer.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const run = promisify(execFile);
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const PYTHON = "/usr/bin/python3";
const SCRIPT = path.join(REPO, "test/polyglot/authlib_jwt_bearer.py");

describe("federated grants from third-party clients", () => {
  let server: TestServer;
  let actions: FakeIssuer;
  let dir: string;
  let auth: { headers: { authorization: string } };
  const WORKLOAD_ISSUER = `https://workloads-${randomUUID().slice(0, 8)}.example.test`;
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const kid = randomUUID();
  let deployerId: string;

  beforeAll(async () => {
    await ensureDebianPackages(["python3-authlib", "python3-requests"], "the authlib federation test");
    dir = mkdtempSync(path.join(tmpdir(), "tessera-authlib-"));
    writeFileSync(path.join(dir, "key.pem"), privateKey.export({ format: "pem", type: "pkcs8" }));
    [server, actions] = await Promise.all([startTestServer({ storage: "embedded" }), startFakeIssuer()]);
    auth = { headers: { authorization: `Bearer ${await server.adminToken()}` } };
    const federation = createClient(FederationService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }));
    const jwks = { keys: [{ ...(publicKey.export({ format: "jwk" }) as Record<string, string>), kid, alg: "ES256" }] };
    await federation.createTrustedIssuer({ trustedIssuer: { issuer: WORKLOAD_ISSUER, jwks, audiences: ["tessera"] } }, auth);
    await federation.createTrustedIssuer({ trustedIssuer: { issuer: actions.issuer, audiences: ["https://github.com/acme"] } }, auth);
    const worker = await registerClient(server, { name: "python-worker", scopes: ["orders:read", "orders:write"] });
    const deployer = await registerClient(server, { name: "deployer", scopes: ["deploy"] });
    deployerId = deployer.clientId;
    await federation.createFederationPolicy({ federationPolicy: { issuer: WORKLOAD_ISSUER, clientId: worker.clientId, subject: "svc-python-*" } }, auth);
    await federation.createFederationPolicy({ federationPolicy: { issuer: actions.issuer, clientId: deployer.clientId, subject: "repo:acme/*:ref:refs/heads/main" } }, auth);
  }, 600_000);
  afterAll(async () => {
    await Promise.all([server?.destroy(), actions?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function keys() {
    return createLocalJWKSet((await (await fetch(`${server.url}/keys`)).json()) as { keys: JWK[] });
  }

  async function authlib(subject: string, scope: string): Promise<{ code: number; output: Record<string, unknown> }> {
    const args = [SCRIPT, `--token-endpoint=${server.url}/oauth/token`, `--issuer=${WORKLOAD_ISSUER}`, `--subject=${subject}`, "--audience=tessera", `--key-file=${path.join(dir, "key.pem")}`, `--kid=${kid}`, `--scope=${scope}`];
    try {
      const { stdout } = await run(PYTHON, args, { cwd: REPO, timeout: 60_000 });
      return { code: 0, output: JSON.parse(stdout) as Record<string, unknown> };
    } catch (error) {
      const failure = error as { code?: number; stdout?: string; stderr?: string };
      if (typeof failure.code === "number" && failure.stdout) return { code: failure.code, output: JSON.parse(failure.stdout) as Record<string, unknown> };
      throw new Error(`authlib_jwt_bearer.py failed: ${failure.stderr ?? String(error)}`);
    }
  }

  it("authlib's AssertionSession gets a token by the jwt-bearer grant, and sees a refusal as an OAuth error", async () => {
    const { code, output } = await authlib("svc-python-orders", "orders:read");
    expect(code).toBe(0);
    expect(output).toMatchObject({ token_type: "Bearer", scope: "orders:read" });
    const { payload } = await jwtVerify(output.access_token as string, await keys(), { issuer: server.config.issuer });
    expect(payload).toMatchObject({ scope: "orders:read" });
    expect(await authlib("someone-else", "orders:read")).toEqual({ code: 1, output: { error: "invalid_grant", error_description: "no federation policy matches the assertion" } });
  });

  it("openid-client's generic grant request exchanges a GitHub Actions token (RFC 8693)", async () => {
    // No client authentication (None): client_id goes in the body, naming the client the policy matches.
    const config = await oidc.discovery(new URL(server.url), deployerId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    const subjectToken = await actions.githubActionsToken({ repository: "acme/payments", audience: "https://github.com/acme" });
    const tokens = await oidc.genericGrantRequest(config, "urn:ietf:params:oauth:grant-type:token-exchange", {
      subject_token: subjectToken,
      subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
      scope: "deploy",
    });
    expect(tokens).toMatchObject({ token_type: "bearer", issued_token_type: "urn:ietf:params:oauth:token-type:access_token", scope: "deploy" });
    expect((await jwtVerify(tokens.access_token, await keys())).payload).toMatchObject({ client_id: deployerId, scope: "deploy" });
  });
});
