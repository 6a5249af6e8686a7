/**
 * The stdout sink: one CloudEvents JSON object per line (newline-delimited JSON) for log
 * shippers. Tessera's log lines share stdout and are JSON too; an event line is told apart by
 * its `"specversion":"1.0"` member, which no log line has, and log lines by `level` and `msg`,
 * which no event has. Each line goes out in one write, and the event counts as delivered once
 * the stream accepted it (its callback), so a crash before that sends it again.
 */
import type { CloudEvent } from "../audit/cloud-event.js";
import type { EventSink } from "../audit/event-delivery.js";

export function stdoutSink(stream: NodeJS.WritableStream = process.stdout): EventSink {
  return {
    name: "stdout",
    // A stream that refuses writes is retried with backoff, never given up on.
    maxAttempts: Number.POSITIVE_INFINITY,
    deliver(event: CloudEvent): Promise<void> {
      return new Promise((resolve, reject) => {
        stream.write(`${JSON.stringify(event)}\n`, (error) => (error ? reject(new Error(`could not write to stdout: ${error.message}`)) : resolve()));
      });
    },
  };
}
