/**
 * Audit entries written off the request path: a token answer never waits for the database. The
 * queue is bounded; past its bound new entries are counted as dropped (and the count written
 * with the next entry that finds room), so a flood of requests cannot grow memory or pile up
 * writes. Entries are written in order: what waits when a write ends goes in the next one, up to
 * a batch (one statement) when the log takes batches, else one at a time.
 */
import type { AuditEntry, AuditLog } from "./audit-event.js";

/** Entries per write at most: a statement of bounded size. */
const MAX_BATCH = 500;

export class AuditQueue {
  private readonly pending: AuditEntry[] = [];
  private writing = false;
  private droppedSinceLast = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly options: {
      readonly audit: AuditLog;
      /** Entries waiting at most; default 10,000. */
      readonly maxPending?: number;
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
    if (!this.writing) void this.drain();
  }

  get size(): number {
    return this.pending.length;
  }

  /** Resolves once every queued entry was written (or failed): for shutdown and tests. */
  idle(): Promise<void> {
    if (!this.writing && this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      const { audit } = this.options;
      while (this.pending.length > 0) {
        const batch = audit.recordAll ? this.pending.splice(0, MAX_BATCH) : this.pending.splice(0, 1);
        try {
          await (audit.recordAll ? audit.recordAll(batch) : audit.record(batch[0]!));
        } catch (error) {
          this.options.onError?.(error);
        }
      }
    } finally {
      this.writing = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}
