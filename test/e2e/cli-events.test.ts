/**
 * `tessera events …` as a script runs it: bin/tessera.cjs in a child process against a real
 * server whose webhook receiver answers 500, judged by stdout and the exit code: the
 * dead-lettered event is listed, and a redelivery resumes the sink.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminCliEnv, runCli, type CliRun } from "../support/cli.js";
import { adminApi } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";

describe("tessera CLI for event delivery", () => {
  let server: TestServer;
  let receiver: WebhookReceiver;
  let env: Record<string, string>;

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    receiver.mode = "fail";
    server = await startTestServer({
      storage: "embedded",
      env: { TESSERA_EVENT_WEBHOOK_URL: receiver.url, TESSERA_EVENT_WEBHOOK_SECRET: receiver.secret, TESSERA_EVENT_WEBHOOK_MAX_ATTEMPTS: "1" },
    });
    env = adminCliEnv(server);
  });
  afterAll(async () => {
    await server?.destroy();
    await receiver?.close();
  });

  const tessera = (...args: string[]) => runCli(env, ...args);

  it("lists the dead-lettered event and resumes the sink with redeliver", { timeout: 60_000 }, async () => {
    await adminApi(server).createClient({ clientId: "poisoned", name: "poisoned", scopes: ["a"] }, { headers: { authorization: `Bearer ${await server.adminToken()}` } });
    const deadline = Date.now() + 20_000;
    let listed: CliRun;
    do {
      listed = await tessera("events", "list", "--dead", "--json");
    } while (!listed.stdout.includes('"deadLettered": true') && Date.now() < deadline);
    expect(listed.code).toBe(0);
    const dead = JSON.parse(listed.stdout) as { sinks: { name: string; deadLettered: boolean; lastError: string; nextEvent: { action: string } }[] };
    expect(dead.sinks).toHaveLength(1);
    expect(dead.sinks[0]).toMatchObject({ name: "webhook", deadLettered: true, lastError: "the receiver answered 500" });
    expect(["client.bootstrap", "client.create"]).toContain(dead.sinks[0]!.nextEvent.action);

    const table = await tessera("events", "list");
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/webhook .*the receiver answered 500/);

    receiver.mode = "accept";
    const resumed = await tessera("events", "redeliver", "webhook");
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/dead-lettered\s+no/);
    await receiver.waitFor((events) => events.some((event) => event.subject === "poisoned"));
    expect((await tessera("events", "list", "--dead")).stdout).toContain("no dead-lettered events");

    const unknown = await tessera("events", "redeliver", "nowhere");
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("no event sink");
  });
});
