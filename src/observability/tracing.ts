/**
 * OpenTelemetry spans through @opentelemetry/api only. Without an SDK registered (the default)
 * nothing is traced; an operator enables tracing by preloading their SDK setup, e.g.
 * `node --import ./otel-setup.js`, with no change to Tessera.
 */
import { SpanKind, SpanStatusCode, trace, type Attributes, type Tracer, type TracerProvider } from "@opentelemetry/api";

export type { Attributes };

const TRACER_NAME = "tessera";

/** What @opentelemetry/api's global provider is until an SDK registers: a proxy with no delegate yet. */
interface DelegatingTracerProvider extends TracerProvider {
  getDelegateTracer(name: string): Tracer | undefined;
}

let sdkTracer: Tracer | undefined;

/**
 * The registered SDK's tracer, or undefined while there is none. Looked up on every call until
 * an SDK registers, so one registered after start-up is still picked up.
 */
function registeredTracer(): Tracer | undefined {
  if (sdkTracer) return sdkTracer;
  const provider = trace.getTracerProvider();
  sdkTracer = "getDelegateTracer" in provider ? (provider as DelegatingTracerProvider).getDelegateTracer(TRACER_NAME) : provider.getTracer(TRACER_NAME);
  return sdkTracer;
}

/**
 * Runs `work` in a server span; failures mark the span as an error with the given outcome.
 * With no SDK registered, `work` runs as it is: the API's no-op span still costs a context
 * copy and an async frame per request, measurable on the introspection path.
 */
export function inServerSpan<T>(name: string, attributes: Attributes, work: () => Promise<T>): Promise<T> {
  const tracer = registeredTracer();
  if (!tracer) return work();
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
