/**
 * Audit events on Prisma. Changes write their entry inside their own transaction (see
 * client-store.ts); this AuditLog records entries that have no change to ride with.
 */
import type { AuditEntry, AuditLog, AuditRetention } from "../audit/audit-event.js";
import type { RecordedAuditEvent } from "../audit/cloud-event.js";
import type { AuditEvent, Prisma, PrismaClient } from "./generated/client.js";

export function auditEventData(entry: AuditEntry): Prisma.AuditEventCreateInput {
  return {
    actor: entry.actor,
    action: entry.action,
    targetClientId: entry.targetClientId ?? null,
    outcome: entry.outcome,
    requestId: entry.requestId ?? null,
    details: (entry.details ?? {}) as Prisma.InputJsonObject,
  };
}

/** An audit row as the domain reads it back. */
export function recordedAuditEvent(row: AuditEvent): RecordedAuditEvent {
  return {
    id: row.id,
    time: row.time,
    actor: row.actor,
    action: row.action,
    targetClientId: row.targetClientId ?? undefined,
    outcome: row.outcome === "denied" ? "denied" : "success",
    requestId: row.requestId ?? undefined,
    details: typeof row.details === "object" && row.details !== null && !Array.isArray(row.details) ? (row.details as Record<string, unknown>) : {},
  };
}

/** Rows per purge statement: a backlog is deleted in short transactions, not one long one. */
const PURGE_BATCH_SIZE = 10_000;

export class PrismaAuditLog implements AuditLog, AuditRetention {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly options: {
      purgeBatchSize?: number;
      /**
       * The configured event sinks: events they have not accepted yet (dead-lettered ones
       * included) outlive the retention period, so a purge never loses an event.
       */
      deliverySinks?: readonly string[];
    } = {},
  ) {}

  async record(entry: AuditEntry): Promise<void> {
    await this.prisma.auditEvent.create({ data: auditEventData(entry) });
  }

  async recordAll(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    // One statement of parallel arrays, in SQL: a steady stream of audited issuances is written
    // in batches, and the ORM's per-row query building would cost more than the rows. WITH
    // ORDINALITY keeps the order given, so ids follow it.
    await this.prisma.$executeRaw`
      INSERT INTO "audit_events" ("actor", "action", "target_client_id", "outcome", "request_id", "details")
      SELECT "actor", "action", "target_client_id", "outcome", "request_id", "details"
      FROM unnest(
        ${entries.map((entry) => entry.actor)}::text[],
        ${entries.map((entry) => entry.action)}::text[],
        ${entries.map((entry) => entry.targetClientId ?? null)}::text[],
        ${entries.map((entry) => entry.outcome)}::text[],
        ${entries.map((entry) => entry.requestId ?? null)}::text[],
        ${entries.map((entry) => JSON.stringify(entry.details ?? {}))}::jsonb[]
      ) WITH ORDINALITY AS t("actor", "action", "target_client_id", "outcome", "request_id", "details", "position")
      ORDER BY "position"`;
  }

  async purgeAuditEvents(time: Date): Promise<number> {
    const batchSize = this.options.purgeBatchSize ?? PURGE_BATCH_SIZE;
    const sinks = [...(this.options.deliverySinks ?? [])];
    let purged = 0;
    for (;;) {
      const deleted = await this.prisma.$executeRaw`
        DELETE FROM "audit_events" WHERE "id" IN (
          SELECT "id" FROM "audit_events"
          WHERE "time" < ${time}
            AND "id" <= COALESCE((SELECT MIN("delivered_through") FROM "event_sinks" WHERE "name" = ANY(${sinks}::text[])), 9223372036854775807)
          LIMIT ${batchSize})`;
      purged += deleted;
      if (deleted < batchSize) return purged;
    }
  }
}
