/**
 * The event outbox on the embedded database and on PostgreSQL: the audit trail read after a
 * sink's cursor, the cursor moved only from where the caller saw it, retention that never purges
 * what a configured sink has not accepted (dead-lettered events included), one delivery lock
 * per schema, and (on PostgreSQL, where transactions overlap) audit ids in commit order.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PrismaAuditLog } from "../../src/store/audit-store.js";
import type { Database } from "../../src/store/database.js";
import { PrismaEventOutbox } from "../../src/store/event-outbox-store.js";
import { DATABASE_BACKENDS, POSTGRES_DATABASE } from "../support/databases.js";

const DAY = 86_400_000;

async function record(database: Database, action: string, time = new Date()): Promise<bigint> {
  return (await database.prisma.auditEvent.create({ data: { time, actor: "tester", action, outcome: "success", targetClientId: "c1" } })).id;
}

describe.each(DATABASE_BACKENDS)("PrismaEventOutbox on $name", (backend) => {
  let database: Database;
  let discard: () => Promise<void>;

  beforeEach(async () => {
    ({ database, discard } = await backend.open());
  });
  afterEach(async () => discard());

  it("starts a new sink at the end of the trail and reads what follows in order", async () => {
    const outbox = new PrismaEventOutbox(database);
    const before = await record(database, "client.create");
    await outbox.ensureSinks(["webhook"]);
    expect((await outbox.cursor("webhook"))?.deliveredThrough).toBe(before);
    const ids = [await record(database, "client.update"), await record(database, "client.delete")];
    expect((await outbox.eventsAfter(before, 10)).map((event) => [event.id, event.action])).toEqual([
      [ids[0], "client.update"],
      [ids[1], "client.delete"],
    ]);
    // A second start keeps the cursor where it stands.
    await outbox.ensureSinks(["webhook"]);
    expect((await outbox.cursor("webhook"))?.deliveredThrough).toBe(before);
    const [status] = await outbox.status(["webhook"]);
    expect(status).toMatchObject({ name: "webhook", backlog: 2, nextEvent: { id: ids[0], action: "client.update" } });
  });

  it("moves a cursor only from where the caller saw it, and records failures up to the dead letter", async () => {
    const outbox = new PrismaEventOutbox(database);
    await outbox.ensureSinks(["webhook"]);
    const start = (await outbox.cursor("webhook"))!.deliveredThrough;
    const id = await record(database, "client.create");
    await outbox.recordFailure("webhook", { at: start, attempts: 3, nextAttemptTime: new Date(), lastError: "the receiver answered 500", dead: true });
    expect(await outbox.cursor("webhook")).toMatchObject({ attempts: 3, lastError: "the receiver answered 500", deadTime: expect.any(Date) });
    expect(await outbox.advance("webhook", start - 1n, id)).toBe(false);
    const resumed = await outbox.redeliver({ name: "webhook", fromEventId: undefined, actor: { clientId: "admin" } });
    expect(resumed).toMatchObject({ deliveredThrough: start, attempts: 0, deadTime: undefined });
    expect(await outbox.advance("webhook", start, id)).toBe(true);
    expect(await outbox.cursor("webhook")).toMatchObject({ deliveredThrough: id, attempts: 0 });
    // The redelivery itself is audited, so it is an event too.
    expect((await outbox.eventsAfter(id, 10)).map((event) => [event.action, event.details])).toEqual([["event_sink.redeliver", { sink: "webhook" }]]);
    expect(await outbox.redeliver({ name: "nowhere", fromEventId: undefined, actor: { clientId: "admin" } })).toBeUndefined();
    // Redelivery goes back in the trail, never forward past events the sink has not received.
    const ahead = id + 1000n;
    await expect(outbox.redeliver({ name: "webhook", fromEventId: ahead, actor: { clientId: "admin" } })).rejects.toMatchObject({ code: "failed_precondition" });
    expect((await outbox.cursor("webhook"))?.deliveredThrough).toBe(id);
    expect(await outbox.redeliver({ name: "webhook", fromEventId: id + 1n, actor: { clientId: "admin" } })).toMatchObject({ deliveredThrough: id });
    expect(await outbox.redeliver({ name: "webhook", fromEventId: 1n, actor: { clientId: "admin" } })).toMatchObject({ deliveredThrough: 0n });
  });

  it("never purges an event a configured sink has not accepted, however old", async () => {
    const old = new Date(Date.now() - 365 * DAY);
    const delivered = await record(database, "client.create", old);
    const outbox = new PrismaEventOutbox(database);
    await outbox.ensureSinks(["webhook", "stdout"]);
    const pending = [await record(database, "client.update", old), await record(database, "client.delete", old)];
    await outbox.advance("stdout", delivered, pending[1]!);
    await outbox.recordFailure("webhook", { at: delivered, attempts: 10, nextAttemptTime: new Date(), lastError: "gone", dead: true });

    const audit = new PrismaAuditLog(database.prisma, { deliverySinks: ["webhook", "stdout"] });
    expect(await audit.purgeAuditEvents(new Date(Date.now() - 90 * DAY))).toBe(1);
    expect((await database.prisma.auditEvent.findMany({ orderBy: { id: "asc" } })).map((row) => row.id)).toEqual(pending);
    await outbox.advance("webhook", delivered, pending[0]!);
    expect(await audit.purgeAuditEvents(new Date(Date.now() - 90 * DAY))).toBe(1);
    // A sink no longer configured holds nothing back.
    expect(await new PrismaAuditLog(database.prisma, { deliverySinks: ["stdout"] }).purgeAuditEvents(new Date())).toBe(1);
  });

  it("lets one holder at a time take the delivery lock, and frees it on release", async () => {
    const outbox = new PrismaEventOutbox(database);
    const lease = await outbox.tryAcquireDeliveryLease();
    expect(lease).toBeDefined();
    expect(await lease!.stillHeld()).toBe(true);
    if (database.kind === "postgres") expect(await outbox.tryAcquireDeliveryLease()).toBeUndefined();
    await lease!.release();
    expect(await lease!.stillHeld()).toBe(false);
    const again = await outbox.tryAcquireDeliveryLease();
    expect(again).toBeDefined();
    await again!.release();
  });
});

describe("audit ids on PostgreSQL", () => {
  it("follow commit order: an insert waits for an earlier uncommitted one, then takes a higher id", async () => {
    const { database, discard } = await POSTGRES_DATABASE.open();
    const early = await database.session();
    const late = await database.session();
    try {
      await early.exec("BEGIN");
      await early.query(`INSERT INTO "audit_events" ("actor", "action", "outcome") VALUES ('a', 'client.create', 'success')`);
      const lateInsert = late.query<{ id: string }>(`INSERT INTO "audit_events" ("actor", "action", "outcome") VALUES ('b', 'client.update', 'success') RETURNING "id"`);
      let lateDone = false;
      void lateInsert.then(() => (lateDone = true));
      await new Promise((resolve) => setTimeout(resolve, 300));
      // The later insert cannot commit (nor be seen) before the earlier transaction ends.
      expect(lateDone).toBe(false);
      await early.exec("COMMIT");
      const [lateRow] = await lateInsert;
      const rows = await database.prisma.auditEvent.findMany({ orderBy: { id: "asc" } });
      expect(rows.map((row) => row.actor)).toEqual(["a", "b"]);
      expect(rows[1]!.id.toString()).toBe(String(lateRow!.id));
    } finally {
      await early.release();
      await late.release();
      await discard();
    }
  });
});
