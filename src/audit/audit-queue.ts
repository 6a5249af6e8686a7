/**
 * Audit entries written off the request path: a token answer never waits for the database. The
 * queue is bounded; past its bound new entries are counted as dropped (and the count written
 * with the next entry that finds room), so a flood of requests cannot grow memory or pile up
 * writes. Entries are written in order, a batch (one statement) at a time when the log takes
 * batches, else one at a time.
 *
 * A batch is written a short while (`lingerMs`) after its first entry arrived, not at once: a
 * statement costs the database far more than a row does, so a steady stream of audited
 * issuances is cheapest written in few large batches. Nobody waits for the rows but readers of
 * the trail; `idle()` (shutdown, tests) writes what waits without lingering.
 */
import type { AuditEntry, AuditLog } from "./audit-event.js";
import { Linger } from "../linger.js";

/** Entries per write at most: a statement of bounded size. */
const MAX_BATCH = 500;

/** How long the first entry of a batch waits for others, by default. */
export const AUDIT_QUEUE_LINGER_MS = 50;

export class AuditQueue {
  private readonly pending: AuditEntry[] = [];
  private writing = false;
  private readonly linger = new Linger(() => void this.write());
  /** Set by idle(): write what waits at once until the queue is empty. */
  private flushing = false;
  private droppedSinceLast = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly options: {
      readonly audit: AuditLog;
      /** Entries waiting at most; default 10,000. */
      readonly maxPending?: number;
      /** How long a batch's first entry waits for others (batching logs only); default AUDIT_QUEUE_LINGER_MS. */
      readonly lingerMs?: number;
      readonly onError?: (error: unknown) => void;
    },
  ) {}

  /** Queues the entry; never throws, never waits. */
  enqueue(entry: AuditEntry): void {
    if (this.pending.length >= (this.options.maxPending ?? 10_000)) {
      this.droppedSinceLast += 1;
      return;
    }
    if (this.droppedSinceLast > 0) {
      entry = { ...entry, details: { ...entry.details, droppedBefore: this.droppedSinceLast } };
      this.droppedSinceLast = 0;
    }
    this.pending.push(entry);
    this.schedule();
  }

  get size(): number {
    return this.pending.length;
  }

  /** Writes what waits without lingering; resolves once every queued entry was written (or failed): for shutdown and tests. */
  idle(): Promise<void> {
    if (!this.writing && this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.flushing = true;
      this.schedule();
    });
  }

  /** Starts the next write now, or once the linger is over; nothing when one is in flight or due. */
  private schedule(): void {
    if (this.writing || this.pending.length === 0) return;
    const linger = this.options.audit.recordAll ? (this.options.lingerMs ?? AUDIT_QUEUE_LINGER_MS) : 0;
    this.linger.schedule(this.flushing || this.pending.length >= MAX_BATCH, linger);
  }

  private async write(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    const { audit } = this.options;
    const batch = audit.recordAll ? this.pending.splice(0, MAX_BATCH) : this.pending.splice(0, 1);
    try {
      await (audit.recordAll ? audit.recordAll(batch) : audit.record(batch[0]!));
    } catch (error) {
      this.options.onError?.(error);
    } finally {
      this.writing = false;
    }
    if (this.pending.length > 0) {
      this.schedule();
      return;
    }
    this.flushing = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
