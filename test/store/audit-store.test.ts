/**
 * Audit events past their retention are purged, on the embedded database and on PostgreSQL:
 * everything recorded before the cut-off goes, in batches, and nothing after it.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PrismaAuditLog } from "../../src/store/audit-store.js";
import type { Database } from "../../src/store/database.js";
import { DATABASE_BACKENDS } from "../support/databases.js";

const DAY = 86_400_000;

describe.each(DATABASE_BACKENDS)("PrismaAuditLog retention on $name", (backend) => {
  let database: Database;
  let discard: () => Promise<void>;

  beforeEach(async () => {
    ({ database, discard } = await backend.open());
  });
  afterEach(async () => discard());

  it("purges the events recorded before the cut-off and keeps the later ones", async () => {
    const audit = new PrismaAuditLog(database.prisma);
    const now = Date.now();
    const ages = [200, 120, 91, 89, 1, 0];
    for (const age of ages) {
      await database.prisma.auditEvent.create({
        data: { time: new Date(now - age * DAY), actor: "", action: "admin.denied", outcome: "denied", details: { age } },
      });
    }
    expect(await audit.purgeAuditEvents(new Date(now - 90 * DAY))).toBe(3);
    const left = await database.prisma.auditEvent.findMany({ orderBy: { time: "asc" } });
    expect(left.map((row) => (row.details as { age: number }).age)).toEqual([89, 1, 0]);
    expect(await audit.purgeAuditEvents(new Date(now - 90 * DAY))).toBe(0);
  });

  it("purges a backlog larger than one batch", async () => {
    const audit = new PrismaAuditLog(database.prisma, { purgeBatchSize: 100 });
    const old = new Date(Date.now() - 365 * DAY);
    await database.prisma.auditEvent.createMany({
      data: Array.from({ length: 345 }, () => ({ time: old, actor: "", action: "admin.denied", outcome: "denied" })),
    });
    expect(await audit.purgeAuditEvents(new Date(Date.now() - 90 * DAY))).toBe(345);
    expect(await database.prisma.auditEvent.count()).toBe(0);
  });

  it("records a batch in one write, in the order given, with every field and null where absent", async () => {
    const audit = new PrismaAuditLog(database.prisma);
    await audit.recordAll([
      { actor: "a", action: "federation.token_issued", outcome: "success", targetClientId: "c1", requestId: "r1", details: { issuer: "https://i.example", n: 1 } },
      { actor: "b", action: "delegation.token_exchanged", outcome: "success", details: { quote: "it's \"quoted\"", nested: { ok: true } } },
      { actor: "c", action: "federation.token_issued", outcome: "denied" },
    ]);
    await audit.recordAll([]);
    const rows = await database.prisma.auditEvent.findMany({ orderBy: { id: "asc" } });
    expect(rows.map(({ actor, action, outcome, targetClientId, requestId, details }) => ({ actor, action, outcome, targetClientId, requestId, details }))).toEqual([
      { actor: "a", action: "federation.token_issued", outcome: "success", targetClientId: "c1", requestId: "r1", details: { issuer: "https://i.example", n: 1 } },
      { actor: "b", action: "delegation.token_exchanged", outcome: "success", targetClientId: null, requestId: null, details: { quote: 'it\'s "quoted"', nested: { ok: true } } },
      { actor: "c", action: "federation.token_issued", outcome: "denied", targetClientId: null, requestId: null, details: {} },
    ]);
  });
});
