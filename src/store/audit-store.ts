/**
 * Audit events on Prisma. Changes write their entry inside their own transaction (see
 * client-store.ts); this AuditLog records entries that have no change to ride with.
 */
import type { AuditEntry, AuditLog } from "../audit/audit-event.js";
import type { Prisma, PrismaClient } from "./generated/client.js";

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

export class PrismaAuditLog implements AuditLog {
  constructor(private readonly prisma: PrismaClient) {}

  async record(entry: AuditEntry): Promise<void> {
    await this.prisma.auditEvent.create({ data: auditEventData(entry) });
  }
}
