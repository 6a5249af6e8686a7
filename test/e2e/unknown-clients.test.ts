/**
 * An unknown client id is answered from memory: no database query, so random ids are no
 * database load and take the same path as a known id with a wrong secret. Shown end to end by
 * cutting the database away (a TCP proxy in between): an unknown id still gets invalid_client at
 * once, where a query would have failed with temporarily_unavailable. In-process, the registry's
 * storage is never asked (test/clients/client-registry.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerClient, type RegisteredClient } from "../support/clients.js";
import { createTestSchema, type TestSchema } from "../support/postgres.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";
import { basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";

let proxy: TcpProxy;
let schema: TestSchema;
let server: TestServer;
let known: RegisteredClient;

beforeAll(async () => {
  proxy = await startTcpProxy({ host: "127.0.0.1", port: 5432 });
  schema = await createTestSchema("unknown");
  server = await startTestServer({
    storage: "postgres",
    env: { DATABASE_URL: `postgres://postgres@127.0.0.1:${proxy.port}/test?schema=${schema.name}`, TESSERA_DEGRADED_WINDOW: "10m" },
  });
  known = await registerClient(server, { name: "known", scopes: ["s"] });
});

afterAll(async () => {
  proxy?.restore();
  await server?.stop();
  await proxy?.close();
  await schema?.drop();
});

async function tokenStatus(clientId: string, clientSecret: string): Promise<{ status: number; error?: string }> {
  const response = await fetch(`${server.url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(clientId, clientSecret) },
    body: "grant_type=client_credentials",
  });
  const body = (await response.json()) as { error?: string };
  return { status: response.status, ...(body.error ? { error: body.error } : {}) };
}

describe("an unknown client id", () => {
  it("is invalid_client from memory, with the database out of reach, like a known id with a wrong secret", async () => {
    proxy.cut();
    for (let i = 0; i < 20; i++) expect(await tokenStatus(`never-created-${i}`, "whatever-secret")).toEqual({ status: 401, error: "invalid_client" });
    expect(await tokenStatus(known.clientId, "whatever-secret")).toEqual({ status: 401, error: "invalid_client" });
    expect((await tokenStatus(known.clientId, known.clientSecret)).status).toBe(200);
    proxy.restore();
  });
});
