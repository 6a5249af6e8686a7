/**
 * Event delivery in a real process: `kill -9` in the middle of delivering loses nothing (the
 * restarted server sends what was not yet accepted; a repeat carries the same id and content),
 * and the stdout sink writes CloudEvents JSON lines that a log shipper can tell from log lines.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, describe, expect, it } from "vitest";
import { ClientAdminService } from "../../src/gen/tessera/v1/client_admin_service_pb.js";
import { freePort } from "../support/ports.js";
import { createTestSchema, type TestSchema } from "../support/postgres.js";
import { startReplicas } from "../support/replicas.js";
import { spawnServer, type ServerProcess } from "../support/server-process.js";
import { ADMIN_CLIENT, STORAGE_KINDS, TEST_KEK, basicAuthorization } from "../support/test-server.js";
import { distinctEvents, startWebhookReceiver } from "../support/webhook-receiver.js";

const dirs: string[] = [];
const schemas: TestSchema[] = [];
afterAll(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  for (const schema of schemas) await schema.drop();
});

async function serverEnv(storage: "embedded" | "postgres"): Promise<Record<string, string>> {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(tmpdir(), "tessera-events-"));
  dirs.push(dataDir);
  const env: Record<string, string> = {
    PORT: String(port),
    TESSERA_HOST: "127.0.0.1",
    TESSERA_ISSUER: `http://127.0.0.1:${port}`,
    TESSERA_DATA_DIR: dataDir,
    TESSERA_ADMIN_CLIENT_ID: ADMIN_CLIENT.clientId,
    TESSERA_ADMIN_CLIENT_SECRET: ADMIN_CLIENT.clientSecret,
  };
  if (storage === "postgres") {
    const schema = await createTestSchema("events");
    schemas.push(schema);
    Object.assign(env, { DATABASE_URL: schema.url, TESSERA_KEK: TEST_KEK });
  }
  return env;
}

async function createClients(baseUrl: string, names: readonly string[]): Promise<string[]> {
  const response = await fetch(`${baseUrl}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(ADMIN_CLIENT.clientId, ADMIN_CLIENT.clientSecret) },
    body: "grant_type=client_credentials",
  });
  const token = ((await response.json()) as { access_token: string }).access_token;
  const api = createClient(ClientAdminService, createConnectTransport({ baseUrl, httpVersion: "1.1" }));
  const ids: string[] = [];
  for (const name of names) ids.push((await api.createClient({ name, scopes: ["a"] }, { headers: { authorization: `Bearer ${token}` } })).client!.clientId);
  return ids;
}

async function stop(server: ServerProcess): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill("SIGTERM");
  await server.exited;
}

describe.each(STORAGE_KINDS)("event delivery across kill -9 on %s storage", (storage) => {
  it("delivers every event after a restart; a repeat has the same id and content", { timeout: 120_000 }, async () => {
    const receiver = await startWebhookReceiver();
    const env: Record<string, string> = { ...(await serverEnv(storage)), TESSERA_EVENT_WEBHOOK_URL: receiver.url, TESSERA_EVENT_WEBHOOK_SECRET: receiver.secret };
    const first = spawnServer(env);
    let second: ServerProcess | undefined;
    try {
      await first.listening;
      await receiver.waitFor((events) => events.length > 0); // the bootstrap admin's event
      // Slow answers: the kill lands while a delivery is in flight.
      receiver.delayMs = 400;
      const names = Array.from({ length: 8 }, (_, index) => `killed-${index}`);
      const clientIds = await createClients(env.TESSERA_ISSUER!, names);
      await receiver.waitFor((events) => distinctEvents(events).some((event) => event.subject === clientIds[1]));
      first.child.kill("SIGKILL");
      expect(await first.exited).toBe("SIGKILL");
      const beforeRestart = distinctEvents(receiver.events).filter((event) => clientIds.includes(event.subject ?? ""));
      expect(beforeRestart.length).toBeLessThan(clientIds.length);

      receiver.delayMs = 0;
      second = spawnServer(env);
      await second.listening;
      await receiver.waitFor((events) => clientIds.every((clientId) => events.some((event) => event.subject === clientId)));
      expect(receiver.rejected).toEqual([]);
      const created = distinctEvents(receiver.events).filter((event) => clientIds.includes(event.subject ?? ""));
      expect(created.map((event) => event.subject)).toEqual(clientIds);
      expect(created.every((event) => event.type === "dev.tessera.client.created")).toBe(true);
      // Duplicates are allowed; each repeat is the same event.
      for (const event of receiver.events) expect(event).toEqual({ ...distinctEvents(receiver.events).find((seen) => seen.id === event.id)!, webhookId: event.id });
    } finally {
      first.child.kill("SIGKILL");
      if (second) await stop(second);
      await receiver.close();
    }
  });
});

async function deliveredBy(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((candidate) => candidate.startsWith('tessera_event_deliveries_total{sink="webhook"} '));
  return line === undefined ? 0 : Number(line.split(" ")[1]);
}

describe("event delivery across replicas on one PostgreSQL", () => {
  it("moves to the other replica when the delivering one is killed, losing nothing", { timeout: 120_000 }, async () => {
    const receiver = await startWebhookReceiver();
    const issuer = `http://127.0.0.1:${await freePort()}`;
    const { replicas, stop: stopAll } = await startReplicas({
      schema: "events_failover",
      count: 2,
      issuer,
      env: { TESSERA_EVENT_WEBHOOK_URL: receiver.url, TESSERA_EVENT_WEBHOOK_SECRET: receiver.secret },
    });
    try {
      const before = await createClients(replicas[0]!.url, ["failover-0", "failover-1"]);
      await receiver.waitFor((events) => before.every((clientId) => events.some((event) => event.subject === clientId)));
      const counts = await Promise.all(replicas.map((replica) => deliveredBy(replica.url)));
      // One replica delivers; the other has not sent a thing.
      expect(counts.filter((count) => count > 0)).toHaveLength(1);
      const leader = replicas[counts.findIndex((count) => count > 0)]!;
      const survivor = replicas.find((replica) => replica !== leader)!;

      receiver.delayMs = 300;
      const during = await createClients(survivor.url, ["failover-2", "failover-3", "failover-4"]);
      await receiver.waitFor((events) => events.some((event) => event.subject === during[0]));
      leader.process.child.kill("SIGKILL");
      await leader.process.exited;
      receiver.delayMs = 0;
      const after = await createClients(survivor.url, ["failover-5"]);
      const all = [...before, ...during, ...after];
      await receiver.waitFor((events) => all.every((clientId) => events.some((event) => event.subject === clientId)));
      expect(receiver.rejected).toEqual([]);
      expect(distinctEvents(receiver.events).filter((event) => all.includes(event.subject ?? "")).map((event) => event.subject)).toEqual(all);
      expect(await deliveredBy(survivor.url)).toBeGreaterThan(0);
    } finally {
      await stopAll();
      await receiver.close();
    }
  });
});

describe("the stdout event sink", () => {
  it("writes each event as one CloudEvents JSON line beside the JSON log lines", { timeout: 60_000 }, async () => {
    const env: Record<string, string> = { ...(await serverEnv("embedded")), TESSERA_EVENT_STDOUT: "true" };
    const server = spawnServer(env);
    let stdout = "";
    server.child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    try {
      await server.listening;
      const [clientId] = await createClients(env.TESSERA_ISSUER!, ["stdout-sink"]);
      const deadline = Date.now() + 20_000;
      while (!stdout.includes(`"subject":"${clientId}"`) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      await stop(server);

      const lines = stdout.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as Record<string, unknown>);
      const events = lines.filter((line) => line.specversion === "1.0");
      const logs = lines.filter((line) => line.specversion === undefined);
      expect(logs.length).toBeGreaterThan(0);
      expect(logs.every((line) => typeof line.level === "string" && typeof line.msg === "string")).toBe(true);
      expect(events.every((event) => event.level === undefined && event.msg === undefined)).toBe(true);
      expect(events.find((event) => event.subject === clientId)).toMatchObject({
        specversion: "1.0",
        type: "dev.tessera.client.created",
        source: env.TESSERA_ISSUER,
        datacontenttype: "application/json",
        id: expect.stringMatching(/^\d+$/),
        time: expect.any(String),
        data: { action: "client.create", actor: ADMIN_CLIENT.clientId, outcome: "success" },
      });
    } finally {
      await stop(server);
    }
  });
});
