/**
 * A first start with no admin configured: the server says at warn how to get one, and
 * `tessera admin bootstrap` makes one straight in the storage the server's environment names,
 * printing its secret once. On the embedded database only one process may hold the data
 * directory, so the command refuses while the server runs.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { adminApi } from "../support/clients.js";
import { freePort } from "../support/ports.js";
import { createTestSchema } from "../support/postgres.js";
import { TEST_KEK, startTestServer, type TestServer } from "../support/test-server.js";

const tessera = (env: Record<string, string>, ...args: string[]) => runCli(env, ...args);

interface Bootstrapped {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly created: boolean;
  readonly scopes: string[];
  readonly audiences: string[];
}

/** An admin token by client credentials, sent the way `curl -u` sends them (raw Basic). */
async function adminTokenWith(server: TestServer, clientId: string, clientSecret: string): Promise<Response> {
  return fetch(`${server.url}/oauth/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString("base64")}`,
    },
    body: "grant_type=client_credentials&scope=tessera:admin",
  });
}

async function canAdminister(server: TestServer, admin: Bootstrapped): Promise<boolean> {
  const response = await adminTokenWith(server, admin.clientId, admin.clientSecret);
  if (response.status !== 200) return false;
  const { access_token: token } = (await response.json()) as { access_token: string };
  const listed = await adminApi(server).listClients({}, { headers: { authorization: `Bearer ${token}` } });
  return listed.clients.some((client) => client.clientId === admin.clientId);
}

/** No bootstrap admin in the environment: the empty values read as unset. */
const NO_CONFIGURED_ADMIN = { TESSERA_ADMIN_CLIENT_ID: "", TESSERA_ADMIN_CLIENT_SECRET: "" };

describe("tessera admin bootstrap", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("on PostgreSQL: creates an admin client whose printed secret gets an admin token, and replaces it when run again", async () => {
    const schema = await createTestSchema();
    const port = await freePort();
    const env = { DATABASE_URL: schema.url, TESSERA_ISSUER: `http://127.0.0.1:${port}`, PORT: String(port) };

    const first = await tessera(env, "admin", "bootstrap", "--json");
    expect(first, first.stderr).toMatchObject({ code: 0, stderr: "" });
    const admin = JSON.parse(first.stdout) as Bootstrapped;
    expect(admin).toMatchObject({ clientId: "tessera-admin", created: true, audiences: [env.TESSERA_ISSUER] });
    expect(admin.scopes).toContain("tessera:admin");
    expect(admin.clientSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const server = await startTestServer({ storage: "postgres", reuse: { databaseUrl: schema.url, dataDir: mkdtempSync(path.join(tmpdir(), "tessera-bootstrap-")) }, env: { ...env, ...NO_CONFIGURED_ADMIN, TESSERA_KEK: TEST_KEK } });
    cleanups.push(() => server.destroy());
    expect(await canAdminister(server, admin)).toBe(true);

    // Again, with the server running: a new secret, which the server takes at once.
    const text = await tessera(env, "admin", "bootstrap");
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^client_id\s+tessera-admin$/m);
    expect(text.stdout).toMatch(/existing client, new secret/);
    const newSecret = text.stdout.trimEnd().split("\n").at(-1)!;
    expect(text.stderr).toContain("curl -u 'tessera-admin:<secret>'");
    let replaced = false;
    for (let attempt = 0; attempt < 50 && !replaced; attempt++) {
      replaced = (await adminTokenWith(server, admin.clientId, admin.clientSecret)).status === 401;
      if (!replaced) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(replaced).toBe(true);
    expect(await canAdminister(server, { ...admin, clientSecret: newSecret })).toBe(true);
  });

  it("on the embedded database: warns at start-up, refuses while the server holds the data directory, works once it stopped", async () => {
    const dataDir = path.join(mkdtempSync(path.join(tmpdir(), "tessera-bootstrap-")), "data");
    cleanups.push(async () => rmSync(path.dirname(dataDir), { recursive: true, force: true }));
    const port = await freePort();
    const env = { TESSERA_DATA_DIR: dataDir, TESSERA_ISSUER: `http://127.0.0.1:${port}`, PORT: String(port) };
    const logLines = (stream: PassThrough) => () => String(stream.read() ?? "").split("\n").filter(Boolean).map((line) => JSON.parse(line) as { level: string; msg: string });

    const firstLog = new PassThrough();
    const first = await startTestServer({ storage: "embedded", reuse: { dataDir, databaseUrl: undefined }, env: { ...env, ...NO_CONFIGURED_ADMIN, TESSERA_LOG_LEVEL: "warn" }, logDestination: firstLog });
    const warnings = logLines(firstLog)().filter((line) => line.level === "warn");
    expect(warnings.map((line) => line.msg)).toContainEqual(expect.stringMatching(/no client with the tessera:admin scope exists.*tessera admin bootstrap.*TESSERA_ADMIN_CLIENT_ID and TESSERA_ADMIN_CLIENT_SECRET/));

    const refused = await tessera(env, "admin", "bootstrap", "--json");
    expect(refused.code).toBe(6);
    expect(JSON.parse(refused.stdout)).toEqual({
      error: { code: "failed_precondition", message: expect.stringContaining(`the data directory ${dataDir} is in use by process ${process.pid}`) },
    });
    await first.stop();

    const made = await tessera(env, "admin", "bootstrap", "--json", "--id", "ops-admin");
    expect(made, made.stderr).toMatchObject({ code: 0, stderr: "" });
    const admin = JSON.parse(made.stdout) as Bootstrapped;
    expect(admin).toMatchObject({ clientId: "ops-admin", created: true });

    const secondLog = new PassThrough();
    const second = await startTestServer({ storage: "embedded", reuse: { dataDir, databaseUrl: undefined }, env: { ...env, ...NO_CONFIGURED_ADMIN, TESSERA_LOG_LEVEL: "warn" }, logDestination: secondLog });
    cleanups.push(() => second.stop());
    expect(logLines(secondLog)().filter((line) => line.level === "warn")).toEqual([]);
    expect(await canAdminister(second, admin)).toBe(true);
  });
});
