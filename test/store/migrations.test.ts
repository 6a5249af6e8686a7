import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { MIGRATIONS_DIR } from "../../src/store/migrations-dir.js";
import { MIGRATION_LOCK_KEY, applyMigrations, pendingMigrations } from "../../src/store/migrations.js";
import type { SqlSession } from "../../src/store/sql-connection.js";
import { POSTGRES_BASE_URL, createTestSchema } from "../support/postgres.js";
import { pgSession, pgliteSession } from "../support/sql-sessions.js";

/** A fresh, empty database for one test. */
interface TestDatabase {
  /** Another session on the database (PGlite has only one: always the same). */
  session(): Promise<SqlSession>;
  close(): Promise<void>;
}

interface Backend {
  readonly name: string;
  /** Whether the database serves several sessions at once (PGlite is one connection). */
  readonly concurrentSessions: boolean;
  open(): Promise<TestDatabase>;
}

// initdb costs seconds per PGlite; loading a dump of a fresh cluster costs well under one
// (../shared/notes/prisma.md), so every test still starts from an empty database.
let emptyPGliteCluster: Promise<Blob> | undefined;
function emptyCluster(): Promise<Blob> {
  emptyPGliteCluster ??= (async () => {
    const db = new PGlite();
    try {
      // dumpDataDir before the instance is ready never settles (PGlite 0.5.16).
      await db.waitReady;
      return await db.dumpDataDir("none");
    } finally {
      await db.close();
    }
  })();
  return emptyPGliteCluster;
}

const pglite: Backend = {
  name: "PGlite (in memory)",
  concurrentSessions: false,
  async open() {
    const db = new PGlite({ loadDataDir: await emptyCluster() });
    await db.waitReady;
    const session = pgliteSession(db);
    return { session: async () => session, close: () => db.close() };
  },
};

const postgres: Backend = {
  name: "PostgreSQL",
  concurrentSessions: true,
  async open() {
    const schema = await createTestSchema();
    const clients: pg.Client[] = [];
    return {
      async session() {
        const client = new pg.Client({ connectionString: POSTGRES_BASE_URL, options: `-c search_path=${schema.name}` });
        await client.connect();
        clients.push(client);
        return pgSession(client);
      },
      async close() {
        await Promise.all(clients.map((client) => client.end().catch(() => {})));
        await schema.drop();
      },
    };
  },
};

const MIGRATION_NAMES = readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();
const [FIRST_MIGRATION] = MIGRATION_NAMES;
if (FIRST_MIGRATION === undefined) throw new Error(`no migrations in ${MIGRATIONS_DIR}`);

const temporaryDirs: string[] = [];
/** A scratch copy of prisma/migrations that a test may edit. */
function copyOfMigrations(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "tessera-migrations-"));
  temporaryDirs.push(dir);
  cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}
afterAll(() => {
  for (const dir of temporaryDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function sha256Hex(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

async function tableExists(session: SqlSession, table: string): Promise<boolean> {
  const [row] = await session.query<{ present: boolean }>("SELECT to_regclass($1) IS NOT NULL AS present", [table]);
  return row?.present === true;
}

async function advisoryLocksHeld(session: SqlSession): Promise<number> {
  const [row] = await session.query<{ held: number }>(
    "SELECT count(*)::int AS held FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()",
  );
  return row?.held ?? -1;
}

interface HistoryRow extends Record<string, unknown> {
  id: string;
  checksum: string;
  migration_name: string;
  started_at: Date;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  logs: string | null;
  applied_steps_count: number;
}

function history(session: SqlSession): Promise<HistoryRow[]> {
  return session.query<HistoryRow>("SELECT * FROM _prisma_migrations ORDER BY migration_name");
}

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe.each([pglite, postgres])("applyMigrations on $name", (backend) => {
  let db: TestDatabase;
  let session: SqlSession;

  beforeEach(async () => {
    db = await backend.open();
    session = await db.session();
  });
  afterEach(async () => {
    await db.close();
  });

  it("applies every migration to an empty database, then nothing on the next start", async () => {
    expect(await applyMigrations(session, { migrationsDir: MIGRATIONS_DIR })).toEqual({ applied: MIGRATION_NAMES });
    for (const table of ["clients", "client_secrets", "signing_keys", "revoked_tokens", "audit_events"]) {
      expect(await tableExists(session, table), table).toBe(true);
    }
    expect(await pendingMigrations(session, MIGRATIONS_DIR)).toEqual([]);
    expect(await applyMigrations(session, { migrationsDir: MIGRATIONS_DIR })).toEqual({ applied: [] });
    expect(await history(session)).toHaveLength(MIGRATION_NAMES.length);
    expect(await advisoryLocksHeld(session)).toBe(0);
  });

  it("records each migration the way Prisma does, so Prisma's tools accept the history", async () => {
    const logged: unknown[] = [];
    await applyMigrations(session, { migrationsDir: MIGRATIONS_DIR, log: (msg, fields) => logged.push({ msg, fields }) });
    const rows = await history(session);
    expect(rows.map((row) => row.migration_name)).toEqual(MIGRATION_NAMES);
    for (const row of rows) {
      const file = readFileSync(path.join(MIGRATIONS_DIR, row.migration_name, "migration.sql"));
      expect(row).toMatchObject({ checksum: sha256Hex(file), applied_steps_count: 1, rolled_back_at: null, logs: null });
      expect(row.id).toMatch(UUID_V4);
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.finished_at!.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
    }
    expect(logged).toEqual(MIGRATION_NAMES.map((migration) => ({ msg: "applying migration", fields: { migration } })));
  });

  it("reports pending migrations without creating the history table", async () => {
    expect(await pendingMigrations(session, MIGRATIONS_DIR)).toEqual(MIGRATION_NAMES);
    expect(await tableExists(session, "_prisma_migrations")).toBe(false);
  });

  it("refuses to start when an applied migration was edited afterwards", async () => {
    const dir = copyOfMigrations();
    await applyMigrations(session, { migrationsDir: dir });
    const file = path.join(dir, FIRST_MIGRATION, "migration.sql");
    writeFileSync(file, `${readFileSync(file, "utf8")}\n-- an afterthought\n`);
    await expect(applyMigrations(session, { migrationsDir: dir })).rejects.toMatchObject({
      code: "edited_migration",
      message: expect.stringContaining(`${FIRST_MIGRATION} was modified after it was applied`),
    });
    expect(await advisoryLocksHeld(session)).toBe(0);
  });

  it("accepts an applied migration whose line endings git converted, as Prisma does", async () => {
    const dir = copyOfMigrations();
    await applyMigrations(session, { migrationsDir: dir });
    const file = path.join(dir, FIRST_MIGRATION, "migration.sql");
    writeFileSync(file, readFileSync(file, "utf8").replaceAll("\n", "\r\n"));
    expect(await applyMigrations(session, { migrationsDir: dir })).toEqual({ applied: [] });
  });

  it("refuses to start when a recorded migration failed and was not resolved (Prisma's P3009)", async () => {
    await applyMigrations(session, { migrationsDir: MIGRATIONS_DIR });
    await session.query("UPDATE _prisma_migrations SET finished_at = NULL WHERE migration_name = $1", [FIRST_MIGRATION]);
    await expect(applyMigrations(session, { migrationsDir: MIGRATIONS_DIR })).rejects.toMatchObject({
      code: "failed_migration",
      message: expect.stringContaining(FIRST_MIGRATION),
    });
  });

  it("refuses to start when the database applied a migration the folder no longer has", async () => {
    const dir = copyOfMigrations();
    mkdirSync(path.join(dir, "29991231000000_from_the_future"));
    writeFileSync(path.join(dir, "29991231000000_from_the_future", "migration.sql"), "CREATE TABLE future_probe (id int);\n");
    await applyMigrations(session, { migrationsDir: dir });
    rmSync(path.join(dir, "29991231000000_from_the_future"), { recursive: true });
    await expect(applyMigrations(session, { migrationsDir: dir })).rejects.toMatchObject({
      code: "unknown_migration",
      message: expect.stringContaining("29991231000000_from_the_future"),
    });
  });

  it("rolls a failing migration back completely, records nothing, and names it", async () => {
    await applyMigrations(session, { migrationsDir: MIGRATIONS_DIR });
    const dir = copyOfMigrations();
    mkdirSync(path.join(dir, "29991231000000_broken"));
    writeFileSync(
      path.join(dir, "29991231000000_broken", "migration.sql"),
      "CREATE TABLE broken_probe (id int);\nSELECT * FROM table_that_does_not_exist;\n",
    );
    await expect(applyMigrations(session, { migrationsDir: dir })).rejects.toMatchObject({
      code: "migration_failed",
      message: expect.stringMatching(/29991231000000_broken.*table_that_does_not_exist/),
    });
    expect(await tableExists(session, "broken_probe")).toBe(false);
    expect((await history(session)).map((row) => row.migration_name)).toEqual(MIGRATION_NAMES);
    expect(await pendingMigrations(session, dir)).toEqual(["29991231000000_broken"]);
    expect(await advisoryLocksHeld(session)).toBe(0);
  });

  // Only PostgreSQL has more than one session; PGlite's single connection cannot race itself.
  if (backend.concurrentSessions) it("lets exactly one of two replicas starting together apply the migrations", async () => {
    const [replicaA, replicaB, blocker] = await Promise.all([db.session(), db.session(), db.session()]);
    const pids = await Promise.all(
      [replicaA, replicaB].map(async (replica) => (await replica.query<{ pid: number }>("SELECT pg_backend_pid() AS pid"))[0]!.pid),
    );
    // Hold the lock so both replicas are certainly waiting for it at the same time.
    await blocker.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`);
    const runs = Promise.all([replicaA, replicaB].map((replica) => applyMigrations(replica, { migrationsDir: MIGRATIONS_DIR })));
    await expect
      .poll(
        async () =>
          (
            await blocker.query<{ waiting: number }>(
              "SELECT count(*)::int AS waiting FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid = ANY($1::int[])",
              [pids],
            )
          )[0]?.waiting,
        { timeout: 10_000 },
      )
      .toBe(2);
    await blocker.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`);

    const results = await runs;
    expect(results.flatMap((result) => result.applied)).toEqual(MIGRATION_NAMES);
    expect(results.map((result) => result.applied.length).sort()).toEqual([0, MIGRATION_NAMES.length]);
    expect((await history(blocker)).map((row) => row.migration_name)).toEqual(MIGRATION_NAMES);
  });
});
