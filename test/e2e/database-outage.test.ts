/**
 * The database going away and coming back: readiness and gRPC health report it, admin calls fail
 * UNAVAILABLE with nothing half-written, tokens keep being issued and verified from memory for
 * the degraded window and then fail closed, and everything recovers without a restart —
 * including changes the LISTEN connection missed while it was down.
 */
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health } from "../../src/gen/grpc/health/v1/health_pb.js";
import { adminApi, registerClient, type RegisteredClient } from "../support/clients.js";
import { POSTGRES_BASE_URL, createTestSchema, type TestSchema } from "../support/postgres.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";
import { basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";

let proxy: TcpProxy;
let schema: TestSchema;
let server: TestServer;
let client: RegisteredClient;
let adminToken: string;

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error("condition not reached in time");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function tokenStatus(who: RegisteredClient): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(who.clientId, who.clientSecret) },
    body: "grant_type=client_credentials",
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function introspect(token: string): Promise<{ status: number; active?: boolean }> {
  const response = await fetch(`${server.url}/oauth/introspect`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Bearer ${adminToken}` },
    body: new URLSearchParams({ token }),
  });
  const body = (await response.json()) as { active?: boolean };
  return { status: response.status, active: body.active };
}

const readyStatus = async () => (await fetch(`${server.url}/readyz`)).status;
const healthStatus = async () => (await createClient(Health, createGrpcTransport({ baseUrl: server.url })).check({ service: "" })).status;

async function direct<T>(fn: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = new pg.Client({ connectionString: POSTGRES_BASE_URL, options: `-c search_path=${schema.name}` });
  await db.connect();
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

beforeAll(async () => {
  proxy = await startTcpProxy({ host: "127.0.0.1", port: 5432 });
  schema = await createTestSchema("outage");
  server = await startTestServer({
    storage: "postgres",
    env: { DATABASE_URL: `postgres://postgres@127.0.0.1:${proxy.port}/test?schema=${schema.name}`, TESSERA_DEGRADED_WINDOW: "6s" },
  });
  client = await registerClient(server, { name: "steady", scopes: ["s"] });
  adminToken = await server.adminToken("tessera:admin tessera:introspect");
});

afterAll(async () => {
  proxy?.restore();
  await server?.stop();
  await proxy?.close();
  await schema?.drop();
});

describe("a database outage", () => {
  it("is survived: degraded service from memory, fail closed after the window, recovery without restart", async () => {
    const before = await tokenStatus(client);
    expect(before.status).toBe(200);
    const victim = await registerClient(server, { name: "victim", scopes: ["s"] });
    const victimToken = (await tokenStatus(victim)).body.access_token as string;

    proxy.cut();
    await until(async () => (await readyStatus()) === 503);
    await until(async () => (await healthStatus()) === 2 /* NOT_SERVING */);

    // Tokens for known clients, and their verification, continue from memory.
    expect((await tokenStatus(client)).status).toBe(200);
    expect(await introspect(before.body.access_token as string)).toEqual({ status: 200, active: true });

    // Admin changes fail UNAVAILABLE and write nothing.
    const refused = await adminApi(server)
      .createClient({ name: "during-outage", scopes: ["s"] }, { headers: { authorization: `Bearer ${adminToken}` } })
      .catch((error: unknown) => error);
    expect((refused as ConnectError).code).toBe(Code.Unavailable);

    // A change made behind Tessera's back while its LISTEN connection is down. It bumps the
    // revision and update time as every change through Tessera does: the resync finds changed
    // clients by their version.
    await direct((db) =>
      db.query("UPDATE clients SET status = 'inactive', revision = revision + 1, update_time = now() WHERE id = $1", [victim.clientId]),
    );

    // Past the degraded window Tessera stops vouching for tokens.
    await new Promise((resolve) => setTimeout(resolve, 6_500));
    expect(await tokenStatus(client)).toMatchObject({ status: 503, body: { error: "temporarily_unavailable" } });
    expect((await introspect(before.body.access_token as string)).status).toBe(503);

    proxy.restore();
    await until(async () => (await readyStatus()) === 200);
    await until(async () => (await healthStatus()) === 1 /* SERVING */);
    expect((await tokenStatus(client)).status).toBe(200);
    // The missed change arrives with the resync after reconnecting.
    await until(async () => (await introspect(victimToken)).active === false);
    const names = await direct(async (db) => (await db.query<{ name: string }>("SELECT name FROM clients")).rows.map((row) => row.name));
    expect(names).not.toContain("during-outage");
    await adminApi(server).createClient({ name: "after-outage", scopes: ["s"] }, { headers: { authorization: `Bearer ${adminToken}` } });
  });
});
