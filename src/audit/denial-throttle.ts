/**
 * Auditing refused admin calls without letting the refusals drive database writes. Anyone who
 * can reach the port can be refused, as often as they like, so each (source address, actor,
 * reason) gets at most one audit row per window; the refusals in between are counted, and the
 * count is written with the next row for that key, or as a summary row once its window has
 * ended. A cap on rows per window across all keys holds against callers with many addresses
 * (an IPv6 prefix), and the keys held in memory are bounded in number and in bytes: past
 * either bound, or past the row cap, refusals are only counted, under one overflow summary.
 */
import type { AuditEntry, AuditLog } from "./audit-event.js";

export interface DenialThrottleLimits {
  /** How long one key's row stands for all its refusals. */
  readonly windowMs: number;
  /** Rows (first refusals of a key) per window across all keys. */
  readonly maxRowsPerWindow: number;
  /** Keys held at once. */
  readonly maxKeys: number;
  /** Bytes of key text held at once (UTF-16, as JavaScript holds it). */
  readonly maxKeyBytes: number;
}

export const DEFAULT_DENIAL_THROTTLE_LIMITS: DenialThrottleLimits = {
  windowMs: 60_000,
  maxRowsPerWindow: 100,
  maxKeys: 10_000,
  maxKeyBytes: 1024 * 1024,
};

/** One refused call, as the authorization layer saw it. */
export interface Denial {
  /** The peer address. */
  readonly source: string;
  /** client_id of a caller whose token verified; "" otherwise. */
  readonly actor: string;
  /** Why the call was refused: a fixed text chosen by the server. */
  readonly reason: string;
  readonly rpc: string;
  readonly requestId?: string | undefined;
}

/** What to write for one refusal: nothing, or a row carrying the refusals counted since the key's last row. */
export type DenialVerdict = { readonly write: false } | { readonly write: true; readonly suppressed: number };

/** Refusals counted but not yet written, for a window that has ended. */
export interface SuppressedDenials {
  readonly source: string;
  readonly actor: string;
  readonly reason: string;
  readonly count: number;
  readonly since: number;
}

interface KeyWindow {
  readonly denial: Pick<Denial, "source" | "actor" | "reason">;
  readonly bytes: number;
  start: number;
  suppressed: number;
}

/** Stands for every refusal that found no room of its own. */
const OVERFLOW = { source: "*", actor: "*", reason: "refusals beyond the audit limits" } as const;

/** The bookkeeping alone: which refusals to write, which to count. No I/O. */
export class DenialThrottle {
  /** In order of window start, so the ended windows are always at the front. */
  private readonly windows = new Map<string, KeyWindow>();
  private keyBytes = 0;
  private rowsWindowStart = Number.NEGATIVE_INFINITY;
  private rowsInWindow = 0;
  private overflow = { count: 0, since: 0 };

  constructor(private readonly limits: DenialThrottleLimits = DEFAULT_DENIAL_THROTTLE_LIMITS) {}

  admit(denial: Denial, now: number): DenialVerdict {
    const key = `${denial.source}\u0000${denial.actor}\u0000${denial.reason}`;
    const held = this.windows.get(key);
    if (held && now - held.start < this.limits.windowMs) {
      held.suppressed += 1;
      return { write: false };
    }
    if (now - this.rowsWindowStart >= this.limits.windowMs) {
      this.rowsWindowStart = now;
      this.rowsInWindow = 0;
    }
    if (held) {
      // The key's window has ended: this refusal opens the next one and carries the count.
      const suppressed = held.suppressed;
      this.windows.delete(key);
      held.start = now;
      held.suppressed = 0;
      this.windows.set(key, held);
      this.rowsInWindow += 1;
      return { write: true, suppressed };
    }
    const bytes = key.length * 2;
    const full = this.windows.size >= this.limits.maxKeys || this.keyBytes + bytes > this.limits.maxKeyBytes;
    if (full || this.rowsInWindow >= this.limits.maxRowsPerWindow) {
      if (this.overflow.count === 0) this.overflow.since = now;
      this.overflow.count += 1;
      return { write: false };
    }
    this.windows.set(key, { denial: { source: denial.source, actor: denial.actor, reason: denial.reason }, bytes, start: now, suppressed: 0 });
    this.keyBytes += bytes;
    this.rowsInWindow += 1;
    return { write: true, suppressed: 0 };
  }

  /**
   * Forgets the keys whose window has ended, returning the refusals they counted that no later
   * row carried, plus the overflow count once a whole window has passed since it began.
   */
  takeEnded(now: number): SuppressedDenials[] {
    const ended: SuppressedDenials[] = [];
    for (const [key, window] of this.windows) {
      if (now - window.start < this.limits.windowMs) break;
      this.windows.delete(key);
      this.keyBytes -= window.bytes;
      if (window.suppressed > 0) ended.push({ ...window.denial, count: window.suppressed, since: window.start });
    }
    if (this.overflow.count > 0 && now - this.overflow.since >= this.limits.windowMs) {
      ended.push({ ...OVERFLOW, count: this.overflow.count, since: this.overflow.since });
      this.overflow = { count: 0, since: 0 };
    }
    return ended;
  }

  /** Keys and key bytes held, for tests and metrics. */
  get held(): { readonly keys: number; readonly bytes: number } {
    return { keys: this.windows.size, bytes: this.keyBytes };
  }
}

/** The audit log of refused admin calls, throttled. */
export class DenialAudit {
  private readonly throttle: DenialThrottle;

  constructor(
    private readonly options: {
      audit: AuditLog;
      /** Milliseconds since the epoch. */
      now: () => number;
      limits?: DenialThrottleLimits;
    },
  ) {
    this.throttle = new DenialThrottle(options.limits);
  }

  /** Writes the refusal, or counts it toward the next row of its key (see the module comment). */
  async record(denial: Denial): Promise<void> {
    const now = this.options.now();
    const verdict = this.throttle.admit(denial, now);
    const ended = this.throttle.takeEnded(now);
    const entries = ended.map(summaryEntry);
    if (verdict.write) {
      entries.push({
        actor: denial.actor,
        action: "admin.denied",
        outcome: "denied",
        requestId: denial.requestId,
        details: { rpc: denial.rpc, reason: denial.reason, source: denial.source, ...(verdict.suppressed > 0 ? { suppressed: verdict.suppressed } : {}) },
      });
    }
    for (const entry of entries) await this.options.audit.record(entry);
  }

  /** Writes the counts of windows that ended with no later refusal to carry them; run periodically. */
  async flush(): Promise<void> {
    for (const suppressed of this.throttle.takeEnded(this.options.now())) await this.options.audit.record(summaryEntry(suppressed));
  }
}

function summaryEntry(suppressed: SuppressedDenials): AuditEntry {
  return {
    actor: suppressed.actor,
    action: "admin.denied",
    outcome: "denied",
    details: { reason: suppressed.reason, source: suppressed.source, suppressed: suppressed.count, since: new Date(suppressed.since).toISOString() },
  };
}
