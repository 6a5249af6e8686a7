/**
 * Watches whether the database answers. While it does not, admin changes fail UNAVAILABLE and
 * readiness says so, but tokens keep being issued and verified from memory — for a bounded
 * window only (TESSERA_DEGRADED_WINDOW, 5 minutes by default). Past it, Tessera stops vouching
 * for tokens: a deactivation or revocation made elsewhere could not have reached this replica,
 * and failing closed is the safer answer for an auth service.
 */
import { TesseraError } from "../errors.js";
import type { Logger } from "../log/logger.js";

export class StorageHealth {
  private healthy = true;
  private lastContact: number;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private readonly listeners: ((healthy: boolean) => void)[] = [];

  constructor(
    private readonly options: {
      probe: () => Promise<void>;
      intervalMs: number;
      degradedWindowMs: number;
      now: () => Date;
      log: Logger;
    },
  ) {
    this.lastContact = options.now().getTime();
  }

  /** Calls `listener` on every change between reachable and unreachable (probes run only once started). */
  onChange(listener: (healthy: boolean) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    this.timer = setInterval(() => void this.check(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  get isHealthy(): boolean {
    return this.healthy;
  }

  /** Probes now; also called by the timer. */
  async check(): Promise<boolean> {
    if (this.probing) return this.healthy;
    this.probing = true;
    try {
      await this.options.probe();
      this.lastContact = this.options.now().getTime();
      this.transition(true);
    } catch (error) {
      if (this.healthy) this.options.log.error({ err: error }, "database unreachable: serving tokens from memory for the degraded window");
      this.transition(false);
    } finally {
      this.probing = false;
    }
    return this.healthy;
  }

  /** Throws temporarily_unavailable once the database has been gone longer than the window. */
  assertFresh(): void {
    if (this.healthy) return;
    if (this.options.now().getTime() - this.lastContact > this.options.degradedWindowMs) {
      throw new TesseraError("temporarily_unavailable", "the database has been unreachable too long to vouch for tokens");
    }
  }

  private transition(healthy: boolean): void {
    if (healthy === this.healthy) return;
    this.healthy = healthy;
    if (healthy) this.options.log.info("database reachable again");
    for (const listener of this.listeners) listener(healthy);
  }
}
