/**
 * Audit events delivered to a webhook: a real receiver verifies every signature with the shared
 * secret; events arrive once each in the steady state, in order per resource, with the resource
 * as subject; a receiver that was down gets everything once it is back; one that answers 500
 * forever dead-letters the sink, which shows in the API and metrics and resumes on demand. On
 * both storages, and across two replicas on one PostgreSQL.
 */
import { randomUUID } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EventDeliveryService } from "../../src/gen/tessera/v1/event_delivery_service_pb.js";
import { FederationService } from "../../src/gen/tessera/v1/federation_service_pb.js";
import { adminApi } from "../support/clients.js";
import { STORAGE_KINDS, startTestServer, type TestServer } from "../support/test-server.js";
import { distinctEvents, startWebhookReceiver, type ReceivedEvent, type WebhookReceiver } from "../support/webhook-receiver.js";

function eventsApi(server: TestServer) {
  return createClient(EventDeliveryService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }));
}

async function auth(server: TestServer) {
  return { headers: { authorization: `Bearer ${await server.adminToken()}` } };
}

/** Creates a client, renames it twice and deletes it: four events about one resource. */
async function churn(server: TestServer, name: string): Promise<string> {
  const api = adminApi(server);
  const options = await auth(server);
  const clientId = (await api.createClient({ name, scopes: ["a"] }, options)).client!.clientId;
  for (const suffix of ["-1", "-2"]) {
    await api.updateClient({ client: { clientId, name: name + suffix }, updateMask: { paths: ["name"] } }, options);
  }
  await api.deleteClient({ clientId }, options);
  return clientId;
}

const CHURN_TYPES = ["dev.tessera.client.created", "dev.tessera.client.updated", "dev.tessera.client.updated", "dev.tessera.client.deleted"];

function aboutSubject(events: readonly ReceivedEvent[], subject: string): ReceivedEvent[] {
  return distinctEvents(events).filter((event) => event.subject === subject);
}

async function metric(server: TestServer, line: string): Promise<number | undefined> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const found = text.split("\n").find((candidate) => candidate.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

async function until(condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.each(STORAGE_KINDS)("audit event delivery to a webhook on %s storage", (storage) => {
  let receiver: WebhookReceiver;
  let server: TestServer | undefined;

  beforeEach(async () => {
    receiver = await startWebhookReceiver();
  });
  afterEach(async () => {
    await server?.destroy();
    server = undefined;
    await receiver.close();
  });

  function start(env: Record<string, string> = {}) {
    return startTestServer({ storage, env: { TESSERA_EVENT_WEBHOOK_URL: receiver.url, TESSERA_EVENT_WEBHOOK_SECRET: receiver.secret, ...env } });
  }

  it("delivers each admin change once as a signed CloudEvent naming the action and the resource", async () => {
    server = await start();
    const clientId = await churn(server, "delivered");
    const issuer = "https://issuer.delivery.example";
    await createClient(FederationService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" })).createTrustedIssuer(
      { trustedIssuer: { issuer, audiences: ["tessera"] } },
      await auth(server),
    );
    await receiver.waitFor((events) => events.some((event) => event.subject === issuer));

    expect(receiver.rejected).toEqual([]);
    const mine = aboutSubject(receiver.events, clientId);
    expect(mine.map((event) => event.type)).toEqual(CHURN_TYPES);
    expect(mine[0]).toMatchObject({
      specversion: "1.0",
      source: server.config.issuer,
      datacontenttype: "application/json",
      data: { action: "client.create", actor: "tessera-admin", outcome: "success", targetClientId: clientId },
    });
    expect(mine.every((event) => event.webhookId === event.id)).toBe(true);
    expect(receiver.events.find((event) => event.subject === issuer)).toMatchObject({ type: "dev.tessera.trusted_issuer.created", data: { details: { issuer } } });
    // The steady state: no event twice, ids increasing in delivery order.
    const ids = receiver.events.map((event) => BigInt(event.id));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(ids);
    await until(async () => (await metric(server!, 'tessera_event_deliveries_total{sink="webhook"}')) === receiver.events.length);
  });

  it("delivers everything recorded while the receiver was down once it is back, in order per resource", async () => {
    server = await start();
    await receiver.down();
    const clients: string[] = [];
    for (const name of ["down-a", "down-b", "down-c"]) clients.push(await churn(server, name));
    await until(async () => ((await metric(server!, 'tessera_event_delivery_failures_total{sink="webhook"}')) ?? 0) >= 1);
    await until(async () => ((await metric(server!, 'tessera_event_backlog{sink="webhook"}')) ?? 0) >= 12);
    expect(await metric(server, 'tessera_event_oldest_undelivered_seconds{sink="webhook"}')).toBeGreaterThan(0);

    await receiver.up();
    await receiver.waitFor((events) => clients.every((clientId) => aboutSubject(events, clientId).length === CHURN_TYPES.length));
    expect(receiver.rejected).toEqual([]);
    for (const clientId of clients) expect(aboutSubject(receiver.events, clientId).map((event) => event.type)).toEqual(CHURN_TYPES);
    await until(async () => (await metric(server!, 'tessera_event_backlog{sink="webhook"}')) === 0);
  });

  it("dead-letters a sink whose receiver answers 500 forever, shows it, and redelivers on demand", async () => {
    server = await start({ TESSERA_EVENT_WEBHOOK_MAX_ATTEMPTS: "2" });
    const api = eventsApi(server);
    // What start-up recorded (the bootstrap admin) goes through first.
    await until(async () => (await api.listEventSinks({}, await auth(server!))).sinks[0]?.backlog === 0n);
    receiver.mode = "fail";
    const clientId = (await adminApi(server).createClient({ name: "poison", scopes: ["a"] }, await auth(server))).client!.clientId;
    // A later event waits behind the dead-lettered one: it must not overtake it.
    await adminApi(server).deleteClient({ clientId }, await auth(server));

    await until(async () => (await api.listEventSinks({}, await auth(server!))).sinks[0]?.deadLettered === true);
    const [sink] = (await api.listEventSinks({}, await auth(server))).sinks;
    expect(sink).toMatchObject({ name: "webhook", attempts: 2, lastError: "the receiver answered 500", backlog: 2n });
    expect(sink!.nextEvent).toMatchObject({ action: "client.create", clientId });
    expect(receiver.failures).toBe(2);
    await until(async () => (await metric(server!, 'tessera_event_dead_lettered{sink="webhook"}')) === 1);
    expect(await metric(server, 'tessera_event_delivery_failures_total{sink="webhook"}')).toBe(2);
    // Paused: no more attempts while dead-lettered.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(receiver.failures).toBe(2);

    receiver.mode = "accept";
    const resumed = await api.redeliverEvents({ sink: "webhook" }, await auth(server));
    expect(resumed.sink).toMatchObject({ name: "webhook", deadLettered: false, attempts: 0 });
    await receiver.waitFor((events) => events.some((event) => event.type === "dev.tessera.event_sink.redelivered"));
    expect(aboutSubject(receiver.events, clientId).map((event) => event.type)).toEqual(["dev.tessera.client.created", "dev.tessera.client.deleted"]);
    expect(receiver.events.at(-1)).toMatchObject({ subject: "webhook", data: { actor: "tessera-admin" } });
    expect(await metric(server, 'tessera_event_dead_lettered{sink="webhook"}')).toBe(0);

    // History is sent again on request, with the same ids.
    const first = receiver.events[0]!;
    const before = receiver.events.length;
    await api.redeliverEvents({ sink: "webhook", fromEventId: first.id }, await auth(server));
    await receiver.waitFor((events) => events.length >= 2 * before + 1);
    expect(receiver.events[before]).toEqual(first);
  });

  it("delivers federated issuances (audited off the request path), but not plain client-credentials tokens", async () => {
    server = await start();
    const issuer = `https://k8s-${randomUUID().slice(0, 8)}.clusters.test`;
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    const kid = randomUUID();
    const options = await auth(server);
    const federation = createClient(FederationService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }));
    await federation.createTrustedIssuer({ trustedIssuer: { issuer, jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: "ES256" }] }, audiences: ["tessera"] } }, options);
    const created = await adminApi(server).createClient({ name: "workload", scopes: ["a"] }, options);
    const clientId = created.client!.clientId;
    await federation.createFederationPolicy({ federationPolicy: { issuer, clientId, subject: "system:serviceaccount:payments:api" } }, options);
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ aud: ["tessera"], sub: "system:serviceaccount:payments:api", exp: now + 600, iat: now, nbf: now })
      .setIssuer(issuer)
      .setProtectedHeader({ alg: "ES256", kid })
      .sign(privateKey);
    const federated = await fetch(`${server.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }),
    });
    expect(federated.status).toBe(200);
    const plain = await fetch(`${server.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${Buffer.from(`${clientId}:${created.clientSecret}`).toString("base64")}` },
      body: "grant_type=client_credentials",
    });
    expect(plain.status).toBe(200);

    await receiver.waitFor((events) => events.some((event) => event.type === "dev.tessera.federation.token_issued"));
    expect(receiver.events.find((event) => event.type === "dev.tessera.federation.token_issued")).toMatchObject({
      subject: clientId,
      data: { action: "federation.token_issued", details: { issuer, subject: "system:serviceaccount:payments:api" } },
    });
    // Let anything else recorded arrive too: a plain client-credentials token never is an event.
    await until(async () => (await metric(server!, 'tessera_event_backlog{sink="webhook"}')) === 0);
    // (The policy's own event has the policy id as its subject.)
    expect(aboutSubject(receiver.events, clientId).map((event) => event.type)).toEqual(["dev.tessera.client.created", "dev.tessera.federation.token_issued"]);
  });

  it("delivers delegated token exchanges with who acted for whom", async () => {
    server = await start();
    const options = await auth(server);
    const suffix = randomUUID().slice(0, 8);
    const [caller, actor, target] = [`caller-${suffix}`, `actor-${suffix}`, `target-${suffix}`];
    const secrets: Record<string, string> = {};
    for (const [clientId, scopes, audiences] of [[actor, [], []], [target, [], []], [caller, ["orders:read"], [actor]]] as const) {
      secrets[clientId] = (await adminApi(server).createClient({ clientId, name: clientId, scopes: [...scopes], audiences: [...audiences] }, options)).clientSecret;
    }
    await createClient(FederationService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" })).createDelegationPolicy(
      { delegationPolicy: { clientId: actor, audiences: [target], scopes: ["orders:read"] } },
      options,
    );
    const token = async (clientId: string, parameters: Record<string, string>) => {
      const response = await fetch(`${server!.url}/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${Buffer.from(`${clientId}:${secrets[clientId]}`).toString("base64")}` },
        body: new URLSearchParams(parameters),
      });
      expect(response.status).toBe(200);
      return ((await response.json()) as { access_token: string }).access_token;
    };
    const subjectToken = await token(caller, { grant_type: "client_credentials", audience: actor, scope: "orders:read" });
    await token(actor, {
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      subject_token: subjectToken,
      subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
      audience: target,
    });

    await receiver.waitFor((events) => events.some((event) => event.type === "dev.tessera.delegation.token_exchanged"));
    expect(receiver.events.find((event) => event.type === "dev.tessera.delegation.token_exchanged")).toMatchObject({
      subject: actor,
      data: { actor, details: { subject: caller, subjectClientId: caller, audiences: [target], scopes: ["orders:read"], impersonated: false, depth: 1 } },
    });
    expect(receiver.events.some((event) => event.subject === caller && event.type !== "dev.tessera.client.created")).toBe(false);
  });

  it("refuses an unknown sink and a malformed event id", async () => {
    server = await start();
    const api = eventsApi(server);
    await expect(api.redeliverEvents({ sink: "stdout" }, await auth(server))).rejects.toMatchObject({ code: 5 });
    await expect(api.redeliverEvents({ sink: "webhook", fromEventId: "1; DROP" }, await auth(server))).rejects.toMatchObject({ code: 3 });
    await expect(api.redeliverEvents({ sink: "webhook", fromEventId: "99999999999999999999" }, await auth(server))).rejects.toMatchObject({ code: 3 });
    await expect(api.listEventSinks({})).rejects.toMatchObject({ code: 16 });
  });
});

describe("audit event delivery with two replicas on one PostgreSQL", () => {
  it("delivers each event through one replica only", async () => {
    const receiver = await startWebhookReceiver();
    const env = { TESSERA_EVENT_WEBHOOK_URL: receiver.url, TESSERA_EVENT_WEBHOOK_SECRET: receiver.secret };
    const first = await startTestServer({ storage: "postgres", env });
    // Replicas share the issuer, so a token from one is good at the other.
    const second = await startTestServer({ storage: "postgres", env: { ...env, TESSERA_ISSUER: first.config.issuer }, reuse: first });
    try {
      const clients: string[] = [];
      for (let round = 0; round < 3; round++) {
        clients.push(await churn(first, `replica-a-${round}`));
        clients.push(await churn(second, `replica-b-${round}`));
      }
      await receiver.waitFor((events) => clients.every((clientId) => aboutSubject(events, clientId).length === CHURN_TYPES.length));
      expect(receiver.rejected).toEqual([]);
      const ids = receiver.events.map((event) => event.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const clientId of clients) expect(aboutSubject(receiver.events, clientId).map((event) => event.type)).toEqual(CHURN_TYPES);
      const delivered = async (server: TestServer) => (await metric(server, 'tessera_event_deliveries_total{sink="webhook"}')) ?? 0;
      // A delivery is counted once the receiver's answer is back, a moment after it arrived there.
      await expect.poll(async () => (await delivered(first)) + (await delivered(second)), { timeout: 5_000 }).toBe(receiver.events.length);
    } finally {
      await second.stop();
      await first.destroy();
      await receiver.close();
    }
  });
});
