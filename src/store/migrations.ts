/**
 * Applies prisma/migrations at start-up the way `prisma migrate deploy` does, without Prisma's
 * native engine (unavailable offline): each migration.sql in its own transaction, recorded in
 * `_prisma_migrations` with the same columns and checksum (SHA-256 of the file), so Prisma's
 * own tooling sees the same history (../shared/notes/prisma.md). A session advisory lock keeps
 * replicas that start together from racing.
 */
import { createHash, randomUUID } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import type { SqlConnection, SqlSession } from "./sql-connection.js";

/** Advisory lock key for migrations ("tessera migrate"). */
const MIGRATION_LOCK = "7661302101953520229";

interface MigrationFile {
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

interface MigrationRow extends Record<string, unknown> {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

/** Prisma's own definition of its history table. */
const CREATE_HISTORY_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export class MigrationError extends Error {
  override readonly name = "MigrationError";
}

export function readMigrationFiles(migrationsDir: string): MigrationFile[] {
  return readdirSync(migrationsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(path.join(migrationsDir, entry.name, "migration.sql")))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const bytes = readFileSync(path.join(migrationsDir, name, "migration.sql"));
      return { name, sql: bytes.toString("utf8"), checksum: createHash("sha256").update(bytes).digest("hex") };
    });
}

async function historyTableExists(connection: SqlConnection): Promise<boolean> {
  const rows = await connection.query<{ present: string | null }>(`SELECT to_regclass('_prisma_migrations')::text AS present`);
  return rows[0]?.present !== null && rows[0]?.present !== undefined;
}

async function readHistory(connection: SqlConnection): Promise<MigrationRow[]> {
  if (!(await historyTableExists(connection))) return [];
  return connection.query<MigrationRow>(
    `SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at, migration_name`,
  );
}

/**
 * Refuses histories Prisma would refuse: a failed migration (neither finished nor rolled back),
 * a migration edited after it was applied, or an applied migration missing from the folder.
 */
function checkHistory(files: readonly MigrationFile[], history: readonly MigrationRow[]): void {
  const byName = new Map(files.map((file) => [file.name, file]));
  for (const row of history) {
    if (row.rolled_back_at !== null) continue;
    if (row.finished_at === null) {
      throw new MigrationError(`migration ${row.migration_name} failed earlier and is not rolled back; resolve it before starting`);
    }
    const file = byName.get(row.migration_name);
    if (!file) throw new MigrationError(`migration ${row.migration_name} is applied but missing from the migrations directory`);
    if (file.checksum !== row.checksum) {
      throw new MigrationError(`migration ${row.migration_name} was modified after it was applied`);
    }
  }
}

function unapplied(files: readonly MigrationFile[], history: readonly MigrationRow[]): MigrationFile[] {
  const applied = new Set(history.filter((row) => row.finished_at !== null && row.rolled_back_at === null).map((row) => row.migration_name));
  return files.filter((file) => !applied.has(file.name));
}

export async function applyMigrations(
  session: SqlSession,
  options: { migrationsDir: string; log?: (message: string, fields?: object) => void },
): Promise<{ applied: string[] }> {
  const files = readMigrationFiles(options.migrationsDir);
  await session.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`);
  try {
    await session.exec(CREATE_HISTORY_TABLE);
    const history = await readHistory(session);
    checkHistory(files, history);
    const applied: string[] = [];
    for (const file of unapplied(files, history)) {
      options.log?.("applying migration", { migration: file.name });
      await session.exec("BEGIN");
      try {
        const startedAt = new Date();
        await session.exec(file.sql);
        await session.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
           VALUES ($1, $2, now(), $3, NULL, NULL, $4, 1)`,
          [randomUUID(), file.checksum, file.name, startedAt],
        );
        await session.exec("COMMIT");
      } catch (error) {
        await session.exec("ROLLBACK").catch(() => {});
        throw new MigrationError(`migration ${file.name} failed: ${(error as Error).message}`);
      }
      applied.push(file.name);
    }
    return { applied };
  } finally {
    await session.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`).catch(() => {});
  }
}

/** Migrations in the folder that the database has not applied; [] when up to date. */
export async function pendingMigrations(connection: SqlConnection, migrationsDir: string): Promise<string[]> {
  return unapplied(readMigrationFiles(migrationsDir), await readHistory(connection)).map((file) => file.name);
}
