/**
 * Delivering the audit trail to the outside, at least once and in order.
 *
 * The trail is the outbox: a change and its audit row commit together, so an event exists
 * exactly when its change does. Each sink keeps a cursor (the last event id it accepted) and
 * receives the events after it strictly in id order, which is commit order; one replica at a
 * time delivers, under a database lock that ends with its connection (a crash, a `kill -9`), so
 * another replica takes over where the cursor stands. The cursor moves only after the sink
 * accepted an event, so a crash between the two sends that event again, with the same id.
 *
 * A failed attempt is retried with capped exponential backoff and full jitter. After
 * `maxAttempts` failures of one event the sink is dead-lettered: it pauses on that event (later
 * events wait behind it, so no receiver ever sees a resource's changes out of order) until an
 * operator redelivers, which resets the attempts, and may rewind the cursor to send history again.
 */
import { TesseraError } from "../errors.js";
import type { Actor } from "./audit-event.js";
import { toCloudEvent, type CloudEvent, type RecordedAuditEvent } from "./cloud-event.js";

/** One destination of events. */
export interface EventSink {
  /** A fixed name ("webhook", "stdout"): the cursor's key and the metrics label. */
  readonly name: string;
  /** Failures of one event before the sink is dead-lettered; Infinity never gives up. */
  readonly maxAttempts: number;
  /** Resolves once the destination accepted the event; rejects with a reason fit for logs. */
  deliver(event: CloudEvent): Promise<void>;
}

/** Where a sink stands. */
export interface SinkCursor {
  readonly name: string;
  readonly deliveredThrough: bigint;
  readonly attempts: number;
  readonly nextAttemptTime: Date | undefined;
  readonly lastError: string | undefined;
  /** When the sink was dead-lettered (paused on the event after the cursor). */
  readonly deadTime: Date | undefined;
}

/** A sink's cursor with what is still ahead of it. */
export interface SinkStatus extends SinkCursor {
  /** Events after the cursor. */
  readonly backlog: number;
  /** The oldest of them, if any: the one delivery is at (and, when dead, the dead-lettered one). */
  readonly nextEvent: RecordedAuditEvent | undefined;
}

/** Holding the delivery lock; lost when the database connection holding it is. */
export interface DeliveryLease {
  /** True while the lock is still this replica's. */
  stillHeld(): Promise<boolean>;
  release(): Promise<void>;
}

/** The storage event delivery needs (implemented in src/store/event-outbox-store.ts). */
export interface EventOutbox {
  /** Creates the cursors of sinks seen for the first time at the end of the trail; keeps existing ones. */
  ensureSinks(names: readonly string[]): Promise<void>;
  /** The delivery lock for this schema, or undefined while another replica holds it. */
  tryAcquireDeliveryLease(): Promise<DeliveryLease | undefined>;
  cursor(name: string): Promise<SinkCursor | undefined>;
  /** Up to `limit` events after `afterId`, in id order. */
  eventsAfter(afterId: bigint, limit: number): Promise<RecordedAuditEvent[]>;
  /**
   * Moves the cursor from `from` to `to` and clears the failures; false when the cursor was no
   * longer at `from` (an operator rewound it, or another replica moved it).
   */
  advance(name: string, from: bigint, to: bigint): Promise<boolean>;
  recordFailure(name: string, failure: { at: bigint; attempts: number; nextAttemptTime: Date; lastError: string; dead: boolean }): Promise<void>;
  status(names: readonly string[]): Promise<SinkStatus[]>;
  /**
   * Resumes a sink: clears its failures and dead-letter state; with `fromEventId`, delivers again
   * from that event on. Writes an audit entry in the same transaction. Undefined for an unknown sink.
   */
  redeliver(input: { name: string; fromEventId: bigint | undefined; actor: { clientId: string; requestId?: string | undefined } }): Promise<SinkCursor | undefined>;
}

export interface DeliveryPolicy {
  /** How often each replica looks for the lock and for new events. */
  readonly pollIntervalMs: number;
  /** Events read per query. */
  readonly batchSize: number;
  /** First retry delay; doubles per failure up to `maxBackoffMs`, then full jitter. */
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  /** How often the backlog gauges are refreshed from the database. */
  readonly statusIntervalMs: number;
}

export const DEFAULT_DELIVERY_POLICY: DeliveryPolicy = {
  pollIntervalMs: 500,
  batchSize: 100,
  initialBackoffMs: 1_000,
  maxBackoffMs: 5 * 60_000,
  statusIntervalMs: 5_000,
};

/** What the delivery loop reports, for metrics and logs. */
export interface DeliveryObserver {
  delivered(sink: string): void;
  failed(sink: string, error: string, willRetryAt: Date | undefined): void;
  deadLettered(sink: string, eventId: string, error: string): void;
  /** Any storage failure of the loop itself; the next tick tries again. */
  loopFailed(error: unknown): void;
}

/** Capped exponential backoff with full jitter: uniform in [delay/2, delay]. */
export function retryDelayMs(attempts: number, policy: Pick<DeliveryPolicy, "initialBackoffMs" | "maxBackoffMs">, random: () => number): number {
  const exponent = Math.min(Math.max(attempts - 1, 0), 30);
  const delay = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** exponent);
  return Math.round(delay / 2 + (delay / 2) * random());
}

export class EventDelivery {
  private readonly outbox: EventOutbox;
  private readonly sinks: readonly EventSink[];
  private readonly source: string;
  private readonly policy: DeliveryPolicy;
  private readonly now: () => Date;
  private readonly random: () => number;
  private readonly observer: DeliveryObserver;
  private lease: DeliveryLease | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = false;
  private statusAt = 0;
  private statuses: readonly SinkStatus[] = [];

  constructor(options: {
    outbox: EventOutbox;
    sinks: readonly EventSink[];
    /** The CloudEvents `source` of every event (the issuer URL). */
    source: string;
    now: () => Date;
    observer: DeliveryObserver;
    policy?: Partial<DeliveryPolicy>;
    random?: () => number;
  }) {
    this.outbox = options.outbox;
    this.sinks = options.sinks;
    this.source = options.source;
    this.now = options.now;
    this.observer = options.observer;
    this.policy = { ...DEFAULT_DELIVERY_POLICY, ...options.policy };
    this.random = options.random ?? Math.random;
  }

  get sinkNames(): string[] {
    return this.sinks.map((sink) => sink.name);
  }

  /** The last status read (every replica reads it, holder of the lock or not). */
  get lastStatus(): readonly SinkStatus[] {
    return this.statuses;
  }

  /** Every configured sink as it stands now. */
  listSinks(): Promise<SinkStatus[]> {
    return this.outbox.status(this.sinkNames);
  }

  /**
   * Resumes a sink (after a dead letter, or to send history again from `fromEventId`) and
   * delivers at once on this replica if it holds the lock (otherwise on the one that does).
   */
  async redeliver(input: { sink: string; fromEventId: string; actor: Actor }): Promise<SinkStatus> {
    if (!this.sinkNames.includes(input.sink)) {
      throw new TesseraError("not_found", `no event sink ${JSON.stringify(input.sink)} is configured (configured: ${this.sinkNames.join(", ") || "none"})`);
    }
    if (input.fromEventId !== "" && !/^[1-9]\d{0,17}$/.test(input.fromEventId)) {
      throw new TesseraError("invalid_argument", "from_event_id: must be an event id (a positive whole number)", "from_event_id");
    }
    const fromEventId = input.fromEventId === "" ? undefined : BigInt(input.fromEventId);
    const cursor = await this.outbox.redeliver({ name: input.sink, fromEventId, actor: input.actor });
    if (!cursor) throw new TesseraError("not_found", `event sink ${input.sink} has no cursor yet; it is created when a server starts with it configured`);
    this.statusAt = 0;
    void this.tick();
    const [status] = await this.outbox.status([input.sink]);
    return status!;
  }

  /** Creates the sinks' cursors; call before anything can be audited, so no event predates a new sink's cursor unseen. */
  async prepare(): Promise<void> {
    if (this.sinks.length > 0) await this.outbox.ensureSinks(this.sinkNames);
  }

  start(): void {
    if (this.sinks.length === 0 || this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.policy.pollIntervalMs);
    this.timer.unref();
    void this.tick();
  }

  /** Runs one pass now, or joins the one under way. */
  tick(): Promise<void> {
    this.ticking ??= this.pass()
      .catch((error: unknown) => this.observer.loopFailed(error))
      .finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  /** Stops polling, lets the delivery under way finish, and gives the lock up. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.ticking;
    const lease = this.lease;
    this.lease = undefined;
    await lease?.release().catch(() => {});
  }

  private async pass(): Promise<void> {
    if (this.stopped) return;
    if (this.now().getTime() - this.statusAt >= this.policy.statusIntervalMs) {
      this.statusAt = this.now().getTime();
      this.statuses = await this.outbox.status(this.sinkNames);
    }
    if (this.lease && !(await this.lease.stillHeld())) {
      const lost = this.lease;
      this.lease = undefined;
      await lost.release().catch(() => {});
    }
    this.lease ??= await this.outbox.tryAcquireDeliveryLease();
    if (!this.lease) return;
    for (const sink of this.sinks) {
      if (this.stopped) return;
      await this.deliverTo(sink);
    }
  }

  private async deliverTo(sink: EventSink): Promise<void> {
    let cursor = await this.outbox.cursor(sink.name);
    if (!cursor || cursor.deadTime) return;
    if (cursor.nextAttemptTime && cursor.nextAttemptTime > this.now()) return;
    for (;;) {
      const events = await this.outbox.eventsAfter(cursor.deliveredThrough, this.policy.batchSize);
      for (const event of events) {
        if (this.stopped) return;
        try {
          await sink.deliver(toCloudEvent(event, this.source));
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          const attempts = cursor.attempts + 1;
          const dead = attempts >= sink.maxAttempts;
          const nextAttemptTime = new Date(this.now().getTime() + retryDelayMs(attempts, this.policy, this.random));
          await this.outbox.recordFailure(sink.name, { at: cursor.deliveredThrough, attempts, nextAttemptTime, lastError: reason, dead });
          this.observer.failed(sink.name, reason, dead ? undefined : nextAttemptTime);
          if (dead) this.observer.deadLettered(sink.name, event.id.toString(), reason);
          return;
        }
        if (!(await this.outbox.advance(sink.name, cursor.deliveredThrough, event.id))) return;
        this.observer.delivered(sink.name);
        cursor = { ...cursor, deliveredThrough: event.id, attempts: 0, nextAttemptTime: undefined, lastError: undefined };
      }
      if (events.length < this.policy.batchSize) return;
    }
  }
}
