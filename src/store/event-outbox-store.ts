/**
 * The event outbox on Prisma: the audit trail itself, and one cursor per sink (event_sinks).
 * Audit ids are handed out in commit order by a trigger (migration 20261203001500), so reading
 * "after the cursor, in id order" never skips an event whose transaction commits late.
 *
 * The delivery lock is a session-level advisory lock on a dedicated connection, keyed by the
 * schema so deployments sharing a PostgreSQL server do not wait on each other. It is released
 * when that connection ends, however the process holding it ended.
 */
import type { RecordedAuditEvent } from "../audit/cloud-event.js";
import type { DeliveryLease, EventOutbox, SinkCursor, SinkStatus } from "../audit/event-delivery.js";
import { TesseraError } from "../errors.js";
import { auditEventData, recordedAuditEvent } from "./audit-store.js";
import type { Database } from "./database.js";
import type { PrismaClient } from "./generated/client.js";
import type { EventSink } from "./generated/client.js";

/** First half of the delivery lock's two-part key; the second is the schema's hash. */
const DELIVERY_LOCK_NAMESPACE = 1952803942;
const LOCK_KEY = `${DELIVERY_LOCK_NAMESPACE}, hashtext(current_schema())`;

export class PrismaEventOutbox implements EventOutbox {
  private readonly prisma: PrismaClient;

  constructor(private readonly database: Database) {
    this.prisma = database.prisma;
  }

  async ensureSinks(names: readonly string[]): Promise<void> {
    for (const name of names) {
      // A new sink starts at the end of the trail: enabling a webhook does not replay history
      // (`tessera events redeliver --from` does that on purpose).
      await this.prisma.$executeRaw`
        INSERT INTO "event_sinks" ("name", "delivered_through")
        SELECT ${name}, COALESCE(MAX("id"), 0) FROM "audit_events"
        ON CONFLICT ("name") DO NOTHING`;
    }
  }

  async tryAcquireDeliveryLease(): Promise<DeliveryLease | undefined> {
    const session = await this.database.session();
    try {
      const [row] = await session.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(${LOCK_KEY}) AS locked`);
      if (!row?.locked) {
        await session.release();
        return undefined;
      }
    } catch (error) {
      await session.release().catch(() => {});
      throw error;
    }
    let released = false;
    return {
      // A session lock lasts as long as its connection: if the connection still answers, the
      // lock is still ours.
      stillHeld: async () => {
        if (released) return false;
        try {
          await session.query("SELECT 1");
          return true;
        } catch {
          return false;
        }
      },
      release: async () => {
        if (released) return;
        released = true;
        try {
          await session.query(`SELECT pg_advisory_unlock(${LOCK_KEY})`);
        } finally {
          await session.release();
        }
      },
    };
  }

  async cursor(name: string): Promise<SinkCursor | undefined> {
    const row = await this.prisma.eventSink.findUnique({ where: { name } });
    return row ? toCursor(row) : undefined;
  }

  async eventsAfter(afterId: bigint, limit: number): Promise<RecordedAuditEvent[]> {
    const rows = await this.prisma.auditEvent.findMany({ where: { id: { gt: afterId } }, orderBy: { id: "asc" }, take: limit });
    return rows.map(recordedAuditEvent);
  }

  async advance(name: string, from: bigint, to: bigint): Promise<boolean> {
    const moved = await this.prisma.eventSink.updateMany({
      where: { name, deliveredThrough: from },
      data: { deliveredThrough: to, attempts: 0, nextAttemptTime: null, lastError: null, deadTime: null },
    });
    return moved.count === 1;
  }

  async recordFailure(name: string, failure: { at: bigint; attempts: number; nextAttemptTime: Date; lastError: string; dead: boolean }): Promise<void> {
    await this.prisma.eventSink.updateMany({
      where: { name, deliveredThrough: failure.at, deadTime: null },
      data: {
        attempts: failure.attempts,
        nextAttemptTime: failure.nextAttemptTime,
        lastError: failure.lastError.slice(0, 500),
        deadTime: failure.dead ? new Date() : null,
      },
    });
  }

  async status(names: readonly string[]): Promise<SinkStatus[]> {
    const rows = await this.prisma.eventSink.findMany({ where: { name: { in: [...names] } }, orderBy: { name: "asc" } });
    const statuses: SinkStatus[] = [];
    for (const row of rows) {
      const [backlog, next] = await Promise.all([
        this.prisma.auditEvent.count({ where: { id: { gt: row.deliveredThrough } } }),
        this.prisma.auditEvent.findFirst({ where: { id: { gt: row.deliveredThrough } }, orderBy: { id: "asc" } }),
      ]);
      statuses.push({ ...toCursor(row), backlog, nextEvent: next ? recordedAuditEvent(next) : undefined });
    }
    return statuses;
  }

  async redeliver(input: {
    name: string;
    fromEventId: bigint | undefined;
    actor: { clientId: string; requestId?: string | undefined };
  }): Promise<SinkCursor | undefined> {
    return this.prisma.$transaction(async (tx) => {
      const [row] = await tx.$queryRaw<EventSinkRow[]>`SELECT "delivered_through" FROM "event_sinks" WHERE "name" = ${input.name} FOR UPDATE`;
      if (!row) return undefined;
      // Moving the cursor forward would skip events the sink never received.
      if (input.fromEventId !== undefined && input.fromEventId - 1n > BigInt(row.delivered_through)) {
        throw new TesseraError(
          "failed_precondition",
          `from_event_id: the sink has not received the events before ${input.fromEventId} yet; redeliver from ${BigInt(row.delivered_through) + 1n} or earlier`,
          "from_event_id",
        );
      }
      const updated = await tx.eventSink.update({
        where: { name: input.name },
        data: {
          ...(input.fromEventId !== undefined ? { deliveredThrough: input.fromEventId - 1n } : {}),
          attempts: 0,
          nextAttemptTime: null,
          lastError: null,
          deadTime: null,
        },
      });
      await tx.auditEvent.create({
        data: auditEventData({
          actor: input.actor.clientId,
          action: "event_sink.redeliver",
          outcome: "success",
          requestId: input.actor.requestId,
          details: { sink: input.name, ...(input.fromEventId !== undefined ? { fromEventId: input.fromEventId.toString() } : {}) },
        }),
      });
      return toCursor(updated);
    });
  }
}

type EventSinkRow = { delivered_through: bigint | string };

function toCursor(row: EventSink): SinkCursor {
  return {
    name: row.name,
    deliveredThrough: row.deliveredThrough,
    attempts: row.attempts,
    nextAttemptTime: row.nextAttemptTime ?? undefined,
    lastError: row.lastError ?? undefined,
    deadTime: row.deadTime ?? undefined,
  };
}
