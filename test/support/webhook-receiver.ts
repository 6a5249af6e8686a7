/**
 * A real Standard Webhooks receiver for event-delivery tests: it verifies every request's
 * signature with the shared secret the way a receiver would (and counts the ones that fail),
 * and can be taken down (connections refused), made to fail (500), or made slow.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import http from "node:http";
import { freePort } from "./ports.js";

export interface ReceivedEvent {
  readonly webhookId: string;
  readonly specversion: string;
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly subject?: string;
  readonly time: string;
  readonly datacontenttype: string;
  readonly data: { action: string; actor: string; outcome: string; targetClientId?: string; details: Record<string, unknown> };
}

export type ReceiverMode = "accept" | "fail";

export interface WebhookReceiver {
  readonly url: string;
  /** The whsec_ secret to configure Tessera with. */
  readonly secret: string;
  /** Every accepted delivery, duplicates included, in arrival order. */
  readonly events: ReceivedEvent[];
  /** Requests whose signature, headers or body did not check out. */
  readonly rejected: string[];
  /** Requests answered with 500 in "fail" mode. */
  failures: number;
  mode: ReceiverMode;
  /** Holds each answer this long (to catch a sender mid-delivery). */
  delayMs: number;
  /** Stops listening: connections are refused until `up()`. */
  down(): Promise<void>;
  up(): Promise<void>;
  /** Resolves once `predicate` holds for the events received (polling). */
  waitFor(predicate: (events: readonly ReceivedEvent[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Standard Webhooks verification: HMAC-SHA256 over "id.timestamp.body" with the decoded secret. */
export function verifySignature(secret: string, headers: http.IncomingHttpHeaders, body: string): boolean {
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"];
  if (typeof id !== "string" || typeof timestamp !== "string" || typeof signatures !== "string") return false;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest();
  return signatures.split(" ").some((signature) => {
    const [version, value] = signature.split(",");
    const given = Buffer.from(value ?? "", "base64");
    return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const port = await freePort();
  const secret = `whsec_${randomBytes(32).toString("base64")}`;
  const events: ReceivedEvent[] = [];
  const rejected: string[] = [];
  let server: http.Server | undefined;
  const receiver: WebhookReceiver = {
    url: `http://127.0.0.1:${port}/hooks/tessera`,
    secret,
    events,
    rejected,
    failures: 0,
    mode: "accept",
    delayMs: 0,
    async down() {
      const current = server;
      server = undefined;
      if (!current) return;
      current.closeAllConnections();
      await new Promise<void>((resolve) => current.close(() => resolve()));
    },
    async up() {
      if (server) return;
      const created = http.createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on("data", (chunk: Buffer) => chunks.push(chunk));
        request.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          setTimeout(() => {
            if (receiver.mode === "fail") {
              receiver.failures++;
              response.writeHead(500).end();
              return;
            }
            if (request.method !== "POST" || !String(request.headers["content-type"]).startsWith("application/cloudevents+json") || !verifySignature(secret, request.headers, body)) {
              rejected.push(body);
              response.writeHead(400).end();
              return;
            }
            const event = JSON.parse(body) as Omit<ReceivedEvent, "webhookId">;
            events.push({ ...event, webhookId: String(request.headers["webhook-id"]) });
            response.writeHead(204).end();
          }, receiver.delayMs);
        });
      });
      await new Promise<void>((resolve, reject) => {
        created.once("error", reject);
        created.listen(port, "127.0.0.1", () => resolve());
      });
      server = created;
    },
    async waitFor(predicate, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(events)) {
        if (Date.now() > deadline) throw new Error(`webhook receiver: condition not met; received ${JSON.stringify(events.map((event) => [event.id, event.type, event.subject]))}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    close: () => receiver.down(),
  };
  await receiver.up();
  return receiver;
}

/** Each event once, by id (receivers deduplicate; the same id is the same event). */
export function distinctEvents(events: readonly ReceivedEvent[]): ReceivedEvent[] {
  const byId = new Map<string, ReceivedEvent>();
  for (const event of events) if (!byId.has(event.id)) byId.set(event.id, event);
  return [...byId.values()];
}
