/**
 * grpc.health.v1.Health (https://github.com/grpc/grpc/blob/master/doc/health-checking.md):
 * Check and Watch over the serving status the application sets. The empty service name is the
 * server as a whole.
 */
import { EventEmitter, on } from "node:events";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";

export type HealthState = "SERVING" | "NOT_SERVING";

export class HealthStatus {
  private readonly statuses = new Map<string, HealthState>();
  private readonly changes = new EventEmitter().setMaxListeners(0);
  private stopped = false;

  set(service: string, state: HealthState): void {
    if (this.statuses.get(service) === state) return;
    this.statuses.set(service, state);
    this.changes.emit("change", service);
  }

  get(service: string): HealthState | undefined {
    return this.statuses.get(service);
  }

  /** Everything NOT_SERVING, and every Watch stream ends: the server is going away. */
  shutdown(): void {
    for (const service of this.statuses.keys()) this.set(service, "NOT_SERVING");
    this.stopped = true;
    this.changes.emit("stop");
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Yields the service's status now and after every change, until `signal` aborts or shutdown. */
  async *watch(service: string, signal: AbortSignal): AsyncGenerator<HealthState | undefined> {
    const stop = new AbortController();
    const onStop = () => stop.abort();
    this.changes.once("stop", onStop);
    const combined = AbortSignal.any([signal, stop.signal]);
    try {
      let last: HealthState | undefined | null = null;
      const current = this.statuses.get(service);
      yield current;
      last = current;
      if (this.stopped) return;
      for await (const [changed] of on(this.changes, "change", { signal: combined })) {
        if (changed !== service) continue;
        const next = this.statuses.get(service);
        if (next === last) continue;
        last = next;
        yield next;
      }
    } catch (error) {
      if ((error as Error).name !== "AbortError") throw error;
    } finally {
      this.changes.off("stop", onStop);
    }
  }
}

function toProto(state: HealthState | undefined): ServingStatus {
  if (state === undefined) return ServingStatus.SERVICE_UNKNOWN;
  return state === "SERVING" ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
}

export function healthServiceImpl(status: HealthStatus): ServiceImpl<typeof Health> {
  return {
    check(request) {
      const state = status.get(request.service);
      // The health checking protocol: an unknown service is NOT_FOUND for Check.
      if (state === undefined) throw new ConnectError(`unknown service ${request.service}`, Code.NotFound);
      return { status: toProto(state) };
    },
    async *watch(request, context) {
      // Watch reports SERVICE_UNKNOWN instead of failing, and keeps the stream open.
      for await (const state of status.watch(request.service, context.signal)) {
        yield { status: toProto(state) };
      }
    },
  };
}
