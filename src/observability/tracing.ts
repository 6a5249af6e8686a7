/**
 * OpenTelemetry spans through @opentelemetry/api only. Without an SDK registered (the default)
 * the API is a no-op; an operator enables tracing by preloading their SDK setup, e.g.
 * `node --import ./otel-setup.js`, with no change to Tessera.
 */
import { SpanKind, SpanStatusCode, trace, type Attributes } from "@opentelemetry/api";

export type { Attributes };

const tracer = trace.getTracer("tessera");

/** Runs `work` in a server span; failures mark the span as an error with the given outcome. */
export function inServerSpan<T>(name: string, attributes: Attributes, work: () => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { kind: SpanKind.SERVER, attributes }, async (span) => {
    try {
      return await work();
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : "error" });
      throw error;
    } finally {
      span.end();
    }
  });
}
