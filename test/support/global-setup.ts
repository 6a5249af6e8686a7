/**
 * Runs once before all test files: builds a migrated embedded-database template, because a fresh
 * PGlite data directory costs seconds and hundreds of MB, while copying a template costs
 * milliseconds (../shared/notes/prisma.md).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import type { TestProject } from "vitest/node";
import { MIGRATIONS_DIR } from "../../src/store/migrations-dir.js";
import { applyMigrations } from "../../src/store/migrations.js";

declare module "vitest" {
  export interface ProvidedContext {
    pgliteTemplate: string;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const root = mkdtempSync(path.join(tmpdir(), "tessera-template-"));
  const dataDir = path.join(root, "pglite");
  const pglite = new PGlite(dataDir);
  await pglite.waitReady;
  await applyMigrations(
    {
      exec: async (sql) => {
        await pglite.exec(sql);
      },
      query: async (sql, params) => (await pglite.query<never>(sql, params ? [...params] : undefined)).rows,
      release: async () => {},
    },
    { migrationsDir: MIGRATIONS_DIR },
  );
  await pglite.close();
  project.provide("pgliteTemplate", dataDir);
  return () => rmSync(root, { recursive: true, force: true });
}
