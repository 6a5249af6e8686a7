/**
 * The webhook sink: each event is POSTed as a CloudEvents 1.0 structured-mode JSON body
 * (CloudEvents HTTP binding §3.2, `application/cloudevents+json`) and signed as the Standard
 * Webhooks specification describes: `webhook-id` (the event id, the same on every attempt),
 * `webhook-timestamp` (seconds, fresh per attempt so receivers can refuse old replays) and
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed with the
 * base64-decoded part of the `whsec_…` secret.
 *
 * The URL is the operator's, so plain http:// and loopback addresses are allowed. A receiver
 * still must not be able to hold the loop: a connect deadline and a total deadline, no
 * redirects followed (a 3xx is a failure: the operator fixes the URL), the answer's body is
 * drained unread. Only a 2xx accepts the event.
 */
import { createHmac } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { CloudEvent } from "../audit/cloud-event.js";
import type { EventSink } from "../audit/event-delivery.js";

export interface WebhookSinkOptions {
  readonly url: string;
  /** The decoded signing key (the bytes after `whsec_`). */
  readonly key: Buffer;
  readonly maxAttempts: number;
  readonly connectTimeoutMs: number;
  readonly totalTimeoutMs: number;
  /** Seconds since the epoch, for webhook-timestamp. */
  readonly nowSeconds: () => number;
}

/** Standard Webhooks: the signed content is "msgId.timestamp.body". */
export function webhookSignature(key: Buffer, id: string, timestamp: string, body: string): string {
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}

export function webhookSink(options: WebhookSinkOptions): EventSink {
  const url = new URL(options.url);
  const transport = url.protocol === "https:" ? https : http;
  return {
    name: "webhook",
    maxAttempts: options.maxAttempts,
    deliver(event: CloudEvent): Promise<void> {
      const body = JSON.stringify(event);
      const timestamp = String(Math.floor(options.nowSeconds()));
      const headers = {
        "content-type": "application/cloudevents+json; charset=utf-8",
        "content-length": String(Buffer.byteLength(body)),
        "user-agent": "tessera-events",
        "webhook-id": event.id,
        "webhook-timestamp": timestamp,
        "webhook-signature": webhookSignature(options.key, event.id, timestamp, body),
      };
      return new Promise<void>((resolve, reject) => {
        let settled = false;
        const finish = (error?: Error) => {
          if (settled) return;
          settled = true;
          clearTimeout(total);
          clearTimeout(connect);
          if (error) {
            request.destroy();
            reject(error);
          } else resolve();
        };
        const request = transport.request(url, { method: "POST", headers, agent: false }, (response) => {
          // The body is not read: a receiver cannot make us buffer anything.
          response.resume();
          const status = response.statusCode ?? 0;
          response.once("end", () => finish(status >= 200 && status < 300 ? undefined : new Error(failureOf(status))));
          response.once("error", () => finish(new Error("the receiver's answer was cut off")));
        });
        const total = setTimeout(() => finish(new Error(`no answer within ${options.totalTimeoutMs} ms`)), options.totalTimeoutMs);
        const connect = setTimeout(() => finish(new Error(`could not connect within ${options.connectTimeoutMs} ms`)), options.connectTimeoutMs);
        request.once("socket", (socket) => {
          if (!socket.connecting) clearTimeout(connect);
          else socket.once("connect", () => clearTimeout(connect));
        });
        request.once("error", (error: NodeJS.ErrnoException) => finish(new Error(`request failed: ${error.code ?? error.message}`)));
        request.end(body);
      });
    },
  };
}

function failureOf(status: number): string {
  if (status >= 300 && status < 400) return `the receiver answered ${status}, a redirect, which is not followed`;
  return `the receiver answered ${status}`;
}
