/**
 * The questions the server asks its database while it runs: does it answer at all (liveness,
 * which drives the degraded window), and can it take changes (readiness: reachable, and every
 * migration this build ships applied).
 */
import type { Database } from "./database.js";
import { pendingMigrations } from "./migrations.js";
import { MIGRATIONS_DIR } from "./migrations-dir.js";

/** Resolves when the database answers a trivial query; rejects when it does not. */
export async function probeDatabase(database: Database): Promise<void> {
  const session = await database.session();
  try {
    await session.query("SELECT 1");
  } finally {
    await session.release();
  }
}

/**
 * Readiness checks by name: `database` is "ok" or "unreachable"; `migrations` is "ok" or lists
 * the pending ones (a replica started before a newer one migrated the schema, or the reverse).
 */
export async function databaseReadinessChecks(database: Database): Promise<Record<string, string>> {
  const checks: Record<string, string> = {};
  try {
    const session = await database.session();
    try {
      const pending = await pendingMigrations(session, MIGRATIONS_DIR);
      checks.database = "ok";
      checks.migrations = pending.length === 0 ? "ok" : `pending: ${pending.join(", ")}`;
    } finally {
      await session.release();
    }
  } catch {
    checks.database = "unreachable";
  }
  return checks;
}
