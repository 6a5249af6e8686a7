/**
 * The migration that gives refresh tokens their chain's start: on a database that already holds
 * chains, every token gets its chain's oldest create_time, so the maximum chain lifetime counts
 * from when the chain really began, not from the upgrade.
 */
import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { afterEach, describe, expect, it } from "vitest";
import { MIGRATIONS_DIR } from "../../src/store/migrations-dir.js";
import { applyMigrations } from "../../src/store/migrations.js";
import { pgliteSession } from "../support/sql-sessions.js";

const CHAIN_START_MIGRATION = "20261203000100_refresh_chain_tracking";

describe(`migration ${CHAIN_START_MIGRATION}`, () => {
  let db: PGlite | undefined;
  let earlierMigrations: string | undefined;
  afterEach(async () => {
    await db?.close();
    if (earlierMigrations) rmSync(earlierMigrations, { recursive: true, force: true });
  });

  it("sets every existing token's chain_start_time to its chain's oldest create_time", async () => {
    earlierMigrations = mkdtempSync(path.join(tmpdir(), "tessera-migrations-"));
    for (const entry of readdirSync(MIGRATIONS_DIR, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name < CHAIN_START_MIGRATION) {
        cpSync(path.join(MIGRATIONS_DIR, entry.name), path.join(earlierMigrations, entry.name), { recursive: true });
      }
    }
    db = new PGlite();
    const session = pgliteSession(db);
    await applyMigrations(session, { migrationsDir: earlierMigrations });
    await db.exec(`
      INSERT INTO clients (id, name, allowed_scopes, default_scopes, allowed_audiences, default_audiences) VALUES ('old-client', 'old', '{a}', '{a}', '{}', '{}');
      INSERT INTO refresh_tokens (id, hash, client_id, chain_id, scopes, audiences, secret_hash, create_time, expire_time, use_time) VALUES
        ('00000000-0000-0000-0000-000000000001', 'h1', 'old-client', '10000000-0000-0000-0000-000000000000', '{a}', '{}', 's', '2026-11-01T00:00:00Z', '2026-11-08T00:00:00Z', '2026-11-02T00:00:00Z'),
        ('00000000-0000-0000-0000-000000000002', 'h2', 'old-client', '10000000-0000-0000-0000-000000000000', '{a}', '{}', 's', '2026-11-02T00:00:00Z', '2026-11-09T00:00:00Z', NULL),
        ('00000000-0000-0000-0000-000000000003', 'h3', 'old-client', '20000000-0000-0000-0000-000000000000', '{a}', '{}', 's', '2026-11-05T00:00:00Z', '2026-11-12T00:00:00Z', NULL);
    `);

    await applyMigrations(session, { migrationsDir: MIGRATIONS_DIR });

    const rows = await session.query<{ hash: string; chain_start_time: Date }>(`SELECT hash, chain_start_time FROM refresh_tokens ORDER BY hash`);
    expect(rows.map((row) => [row.hash, row.chain_start_time.toISOString()])).toEqual([
      ["h1", "2026-11-01T00:00:00.000Z"],
      ["h2", "2026-11-01T00:00:00.000Z"],
      ["h3", "2026-11-05T00:00:00.000Z"],
    ]);
    const [column] = await session.query<{ is_nullable: string }>(
      `SELECT is_nullable FROM information_schema.columns WHERE table_name = 'refresh_tokens' AND column_name = 'chain_start_time'`,
    );
    expect(column?.is_nullable).toBe("NO");
  });
});
