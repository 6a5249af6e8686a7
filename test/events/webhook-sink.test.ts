/**
 * The webhook sink against real local receivers: the signature a Standard Webhooks receiver
 * checks, a redirect that is not followed, a receiver that never answers, and one that is not there.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { toCloudEvent } from "../../src/audit/cloud-event.js";
import { webhookSink } from "../../src/events/webhook-sink.js";
import { freePort } from "../support/ports.js";
import { verifySignature } from "../support/webhook-receiver.js";

const secret = `whsec_${randomBytes(32).toString("base64")}`;
const event = toCloudEvent({ id: 7n, time: new Date(), actor: "a", action: "client.create", outcome: "success", targetClientId: "c", details: {} }, "http://tessera.test");
const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function serve(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
}

function sink(url: string, totalTimeoutMs = 5_000) {
  return webhookSink({ url, key: Buffer.from(secret.slice(6), "base64"), maxAttempts: 3, connectTimeoutMs: 1_000, totalTimeoutMs, nowSeconds: () => Date.now() / 1000 });
}

describe("the webhook sink", () => {
  it("signs the body as Standard Webhooks receivers verify it, with the event id as webhook-id", async () => {
    let received: { headers: http.IncomingHttpHeaders; body: string } | undefined;
    const url = await serve((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      request.on("end", () => {
        received = { headers: request.headers, body };
        response.writeHead(200).end("ok");
      });
    });
    await sink(url).deliver(event);
    expect(received!.headers["webhook-id"]).toBe("7");
    expect(received!.headers["content-type"]).toBe("application/cloudevents+json; charset=utf-8");
    expect(verifySignature(secret, received!.headers, received!.body)).toBe(true);
    expect(verifySignature(`whsec_${randomBytes(32).toString("base64")}`, received!.headers, received!.body)).toBe(false);
    expect(JSON.parse(received!.body)).toEqual(event);
  });

  it("does not follow a redirect", async () => {
    let followed = false;
    const target = await serve((_request, response) => {
      followed = true;
      response.writeHead(204).end();
    });
    const url = await serve((_request, response) => response.writeHead(307, { location: target }).end());
    await expect(sink(url).deliver(event)).rejects.toThrow("the receiver answered 307, a redirect, which is not followed");
    expect(followed).toBe(false);
  });

  it("gives up on a receiver that never answers, and on one that is not there", async () => {
    const url = await serve(() => {});
    await expect(sink(url, 300).deliver(event)).rejects.toThrow("no answer within 300 ms");
    await expect(sink(`http://127.0.0.1:${await freePort()}/hook`).deliver(event)).rejects.toThrow("request failed: ECONNREFUSED");
  });
});
