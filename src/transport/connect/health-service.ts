/**
 * grpc.health.v1.Health (https://github.com/grpc/grpc/blob/master/doc/health-checking.md) over
 * the serving statuses the application sets. The empty service name is the server as a whole.
 *
 * - Check: the status, or NOT_FOUND for a service nobody has set.
 * - List: every service's status (at most 100, else RESOURCE_EXHAUSTED, as the spec says).
 * - Watch: the current status at once (SERVICE_UNKNOWN for an unknown service, not an error), then
 *   every change, until the client cancels or `shutdown()` ends the stream with OK.
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";

export { ServingStatus };

/** The two statuses an application sets; the generated enum is accepted as well. */
export type HealthState = "SERVING" | "NOT_SERVING";

/** The spec's cap on List: "responses exceeding this limit will result in a RESOURCE_EXHAUSTED error". */
const LIST_LIMIT = 100;

/** One Watch stream: the newest status not yet sent, and a way to wake the stream up. */
interface Watcher {
  readonly service: string;
  wake(): void;
}

export class HealthStatus {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Set<Watcher>();
  private stopped = false;

  /**
   * Sets a service's status ("" is the whole server) and notifies its watchers. Ignored after
   * `shutdown()`, as grpc-go's health server does, so a late update cannot report SERVING again.
   */
  set(service: string, status: HealthState | ServingStatus): void {
    if (this.stopped) return;
    this.update(service, toServingStatus(status));
  }

  /** The service's status, or undefined when nothing has set it. */
  get(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  /** Every known service and its status. */
  entries(): [service: string, status: ServingStatus][] {
    return [...this.statuses];
  }

  /** Sets every service NOT_SERVING, then ends every Watch stream with OK: the server is going away. */
  shutdown(): void {
    if (this.stopped) return;
    for (const service of this.statuses.keys()) this.update(service, ServingStatus.NOT_SERVING);
    this.stopped = true;
    for (const watcher of this.watchers) watcher.wake();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** How many Watch streams are open. */
  get watching(): number {
    return this.watchers.size;
  }

  /**
   * The service's status now (SERVICE_UNKNOWN if unknown) and after every change, until `signal`
   * aborts or `shutdown()`. A slow reader sees the newest status, not every intermediate one, and
   * never the same status twice in a row.
   */
  async *watch(service: string, signal: AbortSignal): AsyncGenerator<ServingStatus, void, undefined> {
    let wakeUp: (() => void) | undefined;
    let woken = false;
    const watcher: Watcher = {
      service,
      wake() {
        woken = true;
        wakeUp?.();
      },
    };
    const onAbort = () => watcher.wake();
    this.watchers.add(watcher);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      let sent = this.current(service);
      yield sent;
      for (;;) {
        if (!woken && !signal.aborted && !this.stopped) {
          await new Promise<void>((resolve) => (wakeUp = resolve));
          wakeUp = undefined;
        }
        woken = false;
        if (signal.aborted) return;
        const now = this.current(service);
        if (now !== sent) {
          sent = now;
          yield now;
        }
        if (this.stopped) return;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.watchers.delete(watcher);
    }
  }

  private current(service: string): ServingStatus {
    return this.statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN;
  }

  private update(service: string, status: ServingStatus): void {
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    for (const watcher of this.watchers) if (watcher.service === service) watcher.wake();
  }
}

function toServingStatus(status: HealthState | ServingStatus): ServingStatus {
  if (status === "SERVING") return ServingStatus.SERVING;
  if (status === "NOT_SERVING") return ServingStatus.NOT_SERVING;
  return status;
}

export function healthServiceImpl(status: HealthStatus): ServiceImpl<typeof Health> {
  return {
    check(request) {
      const current = status.get(request.service);
      if (current === undefined) throw new ConnectError(`unknown service ${JSON.stringify(request.service)}`, Code.NotFound);
      return { status: current };
    },
    list() {
      const entries = status.entries();
      if (entries.length > LIST_LIMIT) {
        throw new ConnectError(`${entries.length} services exceed the limit of ${LIST_LIMIT}`, Code.ResourceExhausted);
      }
      return { statuses: Object.fromEntries(entries.map(([service, current]) => [service, { status: current }])) };
    },
    async *watch(request, context) {
      // context.signal aborts when the client cancels, the deadline passes, or the call ends.
      for await (const current of status.watch(request.service, context.signal)) yield { status: current };
    },
  };
}
