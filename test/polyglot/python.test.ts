/**
 * The polyglot proof: a Python program calls Tessera over gRPC (h2c) with stubs generated from
 * proto/tessera/v1 by the README's command — TokenService.IssueToken, then
 * IntrospectionService.AuthenticateToken as a resource server. It runs on Debian's own interpreter
 * and gRPC packages, installed here when missing (another python3 may come first on PATH, so
 * /usr/bin/python3 by full path).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerClient, type RegisteredClient } from "../support/clients.js";
import { ensureDebianPackages } from "../support/debian-packages.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const run = promisify(execFile);
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const PYTHON = "/usr/bin/python3";
const CLIENT = path.join(REPO, "test/polyglot/python_client.py");
/** The runtime, and grpc_tools.protoc for the stubs. */
const DEBIAN_PACKAGES = ["python3-grpcio", "python3-protobuf", "python3-grpc-tools"];
const RESOURCE = "orders-api";

/** The README's command for a Python team. */
async function generateStubs(out: string): Promise<void> {
  const protos = readdirSync(path.join(REPO, "proto/tessera/v1")).filter((name) => name.endsWith(".proto")).map((name) => `proto/tessera/v1/${name}`);
  await run(PYTHON, ["-m", "grpc_tools.protoc", "-I", "proto", `--python_out=${out}`, `--grpc_python_out=${out}`, ...protos], { cwd: REPO, timeout: 120_000 });
}

let stubs: string;

/**
 * Runs python_client.py with the address, client id and secret after `--`, and each option as
 * `--name=value`: a generated secret (base64url) may start with "-", which argparse would
 * otherwise read as an option.
 */
async function pythonClient(
  positionals: readonly [address: string, clientId: string, clientSecret: string],
  options: Readonly<Record<string, string>> = {},
): Promise<{ code: number; output: Record<string, any> }> {
  const args = [CLIENT, `--stubs=${stubs}`, ...Object.entries(options).map(([name, value]) => `--${name}=${value}`), "--", ...positionals];
  try {
    const { stdout } = await run(PYTHON, args, { cwd: REPO, timeout: 60_000 });
    return { code: 0, output: JSON.parse(stdout) as Record<string, any> };
  } catch (error) {
    const failure = error as { code?: number; stdout?: string; stderr?: string };
    if (typeof failure.code === "number" && failure.stdout) return { code: failure.code, output: JSON.parse(failure.stdout) as Record<string, any> };
    throw new Error(`python_client.py failed: ${failure.stderr ?? String(error)}`);
  }
}

describe("calling Tessera from Python (Debian's python3-grpcio, stubs generated from our protos)", () => {
  let server: TestServer;
  let worker: RegisteredClient;
  let resourceServer: RegisteredClient;
  let address: string;

  beforeAll(async () => {
    await ensureDebianPackages(DEBIAN_PACKAGES, "the Python polyglot test");
    stubs = mkdtempSync(path.join(tmpdir(), "tessera-python-stubs-"));
    await generateStubs(stubs);
    server = await startTestServer({ storage: "embedded" });
    address = `127.0.0.1:${server.port}`;
    // The resource server may check any token (tessera:introspect); the worker's tokens are for it.
    resourceServer = await registerClient(server, { clientId: RESOURCE, name: "orders api", scopes: ["tessera:introspect"] });
    worker = await registerClient(server, {
      name: "python worker",
      scopes: ["orders:read", "orders:write"],
      audiences: [RESOURCE],
      trustedMetadata: { language: "python" },
      claimsTemplate: { language: "{{metadata.language}}" },
    });
  }, 600_000);
  afterAll(async () => {
    await server?.destroy();
    if (stubs) rmSync(stubs, { recursive: true, force: true });
  });

  it("issues a token with TokenService.IssueToken and authenticates it with IntrospectionService.AuthenticateToken", async () => {
    const { code, output } = await pythonClient([address, worker.clientId, worker.clientSecret], {
      scope: "orders:read",
      audience: RESOURCE,
      "authenticate-as": `${resourceServer.clientId}:${resourceServer.clientSecret}`,
      "required-scope": "orders:read",
      "required-audience": RESOURCE,
    });
    expect(code).toBe(0);
    expect(output.runtime).toMatchObject({ python: PYTHON, grpcio: expect.any(String), protobuf: expect.any(String) });
    expect(output.issue).toMatchObject({
      access_token: expect.stringMatching(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/),
      token_type: "Bearer",
      expires_in: "3600",
      scopes: ["orders:read"],
      audiences: [RESOURCE],
      expire_time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(output.token_header).toMatchObject({ typ: "at+jwt", alg: "RS256", kid: expect.any(String) });
    expect(output.authenticate).toMatchObject({
      client_id: worker.clientId,
      scopes: ["orders:read"],
      audiences: [RESOURCE],
      custom_claims: { language: "python" },
      trusted_metadata: { language: "python" },
      token_id: expect.any(String),
    });
  });

  it("sees Tessera's refusals as gRPC status codes", async () => {
    const wrongSecret = await pythonClient([address, worker.clientId, "not-the-secret"]);
    expect(wrongSecret).toEqual({ code: 1, output: { error: { rpc: "IssueToken", code: "UNAUTHENTICATED", details: expect.any(String) } } });
    const missingScope = await pythonClient([address, worker.clientId, worker.clientSecret], {
      scope: "orders:read",
      "authenticate-as": `${resourceServer.clientId}:${resourceServer.clientSecret}`,
      "required-scope": "orders:write",
    });
    expect(missingScope).toMatchObject({ code: 1, output: { error: { rpc: "AuthenticateToken", code: "PERMISSION_DENIED" } } });
    expect(decodeURIComponent(missingScope.output.error.details)).toBe("missing scopes: orders:write");
  });
});
