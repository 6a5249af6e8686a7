/**
 * Migrated, empty databases for in-process store tests: the embedded one (a copy of the migrated
 * template) and a fresh schema on the PostgreSQL at 127.0.0.1:5432.
 */
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { inject } from "vitest";
import { openDatabase, type Database } from "../../src/store/database.js";
import { applyMigrations } from "../../src/store/migrations.js";
import { MIGRATIONS_DIR } from "../../src/store/migrations-dir.js";
import { createTestSchema } from "./postgres.js";

export interface DatabaseBackend {
  readonly name: string;
  /** A migrated, empty database, and how to get rid of it. */
  open(): Promise<{ database: Database; discard(): Promise<void> }>;
}

export const EMBEDDED_DATABASE: DatabaseBackend = {
  name: "the embedded database",
  async open() {
    const dataDir = mkdtempSync(path.join(tmpdir(), "tessera-store-"));
    cpSync(inject("pgliteTemplate"), path.join(dataDir, "pglite"), { recursive: true });
    const database = await openDatabase({ kind: "embedded", dataDir });
    return {
      database,
      async discard() {
        await database.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  },
};

export const POSTGRES_DATABASE: DatabaseBackend = {
  name: "PostgreSQL",
  async open() {
    const schema = await createTestSchema("store");
    const database = await openDatabase({ kind: "postgres", url: schema.url });
    const session = await database.session();
    try {
      await applyMigrations(session, { migrationsDir: MIGRATIONS_DIR });
    } finally {
      await session.release();
    }
    return {
      database,
      async discard() {
        await database.close();
        await schema.drop();
      },
    };
  },
};

export const DATABASE_BACKENDS: readonly DatabaseBackend[] = [EMBEDDED_DATABASE, POSTGRES_DATABASE];
