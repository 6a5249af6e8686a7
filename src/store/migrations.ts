/**
 * Applies prisma/migrations at start-up the way `prisma migrate deploy` does, without Prisma's
 * schema engine (its native binary cannot be downloaded offline and its wasm build is far too
 * heavy for a server start). History lives in Prisma's own
 * `_prisma_migrations` table with Prisma's columns and checksums, so `prisma migrate status`,
 * `resolve` and `deploy` keep working against a database migrated here, and the other way round.
 *
 * Where this deliberately differs from `migrate deploy` (prisma-engines
 * schema-engine/core/src/commands/apply_migrations.rs):
 * - Each migration runs in one transaction together with its history row, so a failure leaves
 *   neither half-applied schema nor a failed row behind. Prisma records the row first and marks it
 *   failed, which then blocks every later deploy (P3009) until someone runs `migrate resolve`.
 *   Consequence: a migration cannot use statements that refuse transaction blocks
 *   (e.g. CREATE INDEX CONCURRENTLY).
 * - It refuses to start when an applied migration was edited or deleted; Prisma's deploy ignores
 *   both and only `migrate dev`/`status` report them. A server that runs against a history its
 *   code does not describe should stop, not guess.
 */
import { createHash, randomUUID } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import type { SqlConnection, SqlSession } from "./sql-connection.js";

/**
 * The advisory lock key of Prisma Migrate itself (`SELECT pg_advisory_lock(72707369)` in
 * prisma-engines' PostgreSQL connector), so Tessera replicas and a `prisma migrate deploy` run
 * by hand also serialise against each other.
 */
export const MIGRATION_LOCK_KEY = "72707369";

/** Prisma's definition of its history table, verbatim (prisma-engines, postgres flavour `create_migrations_table`). */
const CREATE_HISTORY_TABLE = `CREATE TABLE _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
);`;

export type MigrationErrorCode =
  /** A migration folder has no readable migration.sql. */
  | "invalid_migration"
  /** A recorded migration is neither finished nor rolled back (Prisma's P3009). */
  | "failed_migration"
  /** A recorded migration's checksum does not match its file. */
  | "edited_migration"
  /** The database has applied a migration that is not in the folder. */
  | "unknown_migration"
  /** A migration's SQL failed; it was rolled back. */
  | "migration_failed";

export class MigrationError extends Error {
  override readonly name = "MigrationError";
  readonly code: MigrationErrorCode;

  constructor(code: MigrationErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

interface MigrationFile {
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

interface HistoryRow extends Record<string, unknown> {
  migration_name: string;
  checksum: string;
  finished_at: Date | string | null;
  rolled_back_at: Date | string | null;
}

function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * Every sub-directory is a migration, as in Prisma's CLI; a folder without migration.sql is an
 * error rather than skipped, since skipping it would silently apply the rest out of order. Sorted
 * by UTF-16 code units, which for Prisma's `<utc timestamp>_<name>` folders is the order Prisma
 * applies them in, and does not depend on the locale.
 */
function readMigrationFiles(migrationsDir: string): MigrationFile[] {
  const names = readdirSync(migrationsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  return names.map((name) => {
    const file = path.join(migrationsDir, name, "migration.sql");
    if (!existsSync(file)) throw new MigrationError("invalid_migration", `migration ${name} has no migration.sql`);
    const bytes = readFileSync(file);
    return { name, sql: bytes.toString("utf8"), checksum: sha256Hex(bytes) };
  });
}

/**
 * Prisma accepts a recorded checksum computed with either line ending, because git may convert
 * them on checkout (prisma-engines `checksum::script_matches_checksum`).
 */
function matchesChecksum(file: MigrationFile, checksum: string): boolean {
  return (
    file.checksum === checksum ||
    sha256Hex(file.sql.replaceAll("\r\n", "\n")) === checksum ||
    sha256Hex(file.sql.replaceAll("\r\n", "\n").replaceAll("\n", "\r\n")) === checksum
  );
}

/** Looked up in the search_path, where the unqualified name in every statement here resolves. */
async function historyTableExists(connection: SqlConnection): Promise<boolean> {
  const [row] = await connection.query<{ present: boolean }>("SELECT to_regclass('_prisma_migrations') IS NOT NULL AS present");
  return row?.present === true;
}

async function readHistory(connection: SqlConnection): Promise<HistoryRow[]> {
  // The readiness probe must not create the table, so a missing one is an empty history.
  if (!(await historyTableExists(connection))) return [];
  return connection.query<HistoryRow>(
    "SELECT migration_name, checksum, finished_at, rolled_back_at FROM _prisma_migrations ORDER BY started_at",
  );
}

/** Rows Prisma treats as history: a rolled-back row is kept only as an audit trail. */
function liveRows(history: readonly HistoryRow[]): HistoryRow[] {
  return history.filter((row) => row.rolled_back_at === null);
}

/** Throws one error listing every reason the history cannot be continued from these files. */
function checkHistory(files: readonly MigrationFile[], history: readonly HistoryRow[]): void {
  const byName = new Map(files.map((file) => [file.name, file]));
  const problems: { code: MigrationErrorCode; message: string }[] = [];
  for (const row of liveRows(history)) {
    const file = byName.get(row.migration_name);
    if (row.finished_at === null) {
      // Prisma's detect_failed_migrations: finished_at and rolled_back_at both null (P3009).
      problems.push({
        code: "failed_migration",
        message: `migration ${row.migration_name} failed earlier and was not resolved (see \`prisma migrate resolve\`)`,
      });
    } else if (!file) {
      problems.push({ code: "unknown_migration", message: `migration ${row.migration_name} is applied but missing from the migrations directory` });
    } else if (!matchesChecksum(file, row.checksum)) {
      problems.push({ code: "edited_migration", message: `migration ${row.migration_name} was modified after it was applied` });
    }
  }
  const [first] = problems;
  if (first) {
    throw new MigrationError(first.code, `refusing to migrate: ${problems.map((problem) => problem.message).join("; ")}`);
  }
}

/** As in Prisma: a file is applied when a row of its name exists that was not rolled back. */
function unapplied(files: readonly MigrationFile[], history: readonly HistoryRow[]): MigrationFile[] {
  const applied = new Set(liveRows(history).map((row) => row.migration_name));
  return files.filter((file) => !applied.has(file.name));
}

async function applyOne(session: SqlSession, file: MigrationFile): Promise<void> {
  await session.exec("BEGIN");
  try {
    await session.exec(file.sql);
    // started_at takes its default now(), the transaction's start; finished_at the real end.
    await session.query(
      `INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, rolled_back_at, applied_steps_count)
       VALUES ($1, $2, clock_timestamp(), $3, NULL, NULL, 1)`,
      [randomUUID(), file.checksum, file.name],
    );
    await session.exec("COMMIT");
  } catch (error) {
    // The original error matters more than a failed ROLLBACK on a broken connection.
    await session.exec("ROLLBACK").catch(() => {});
    throw new MigrationError("migration_failed", `migration ${file.name} failed and was rolled back: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * Applies the migrations of `migrationsDir` that the database has not applied, in name order.
 * Call it with a dedicated session: the advisory lock belongs to the connection.
 */
export async function applyMigrations(
  session: SqlSession,
  options: { migrationsDir: string; log?: (msg: string, fields?: object) => void },
): Promise<{ applied: string[] }> {
  const files = readMigrationFiles(options.migrationsDir);
  // Session-level, not transaction-level: it must outlive the per-migration transactions. Blocks
  // while another replica migrates; that one's work is then visible in the history read below.
  await session.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`);
  let failed = false;
  try {
    // Like Prisma's `initialize`: create the table when it is missing (the lock rules out a race).
    if (!(await historyTableExists(session))) await session.exec(CREATE_HISTORY_TABLE);
    const history = await readHistory(session);
    checkHistory(files, history);
    const applied: string[] = [];
    for (const file of unapplied(files, history)) {
      options.log?.("applying migration", { migration: file.name });
      await applyOne(session, file);
      applied.push(file.name);
    }
    return { applied };
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    try {
      await session.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`);
    } catch (unlockError) {
      // After a failure, report that failure; after success, a lock still held on a pooled
      // connection would block every other replica, so the caller must hear about it.
      if (!failed) throw unlockError;
    }
  }
}

/** Migrations in the folder that the database has not applied, in order; [] when up to date. */
export async function pendingMigrations(conn: SqlConnection, migrationsDir: string): Promise<string[]> {
  return unapplied(readMigrationFiles(migrationsDir), await readHistory(conn)).map((file) => file.name);
}
