/**
 * Prisma's schema engine, offline: the wasm build (`@prisma/schema-engine-wasm`) driven through
 * a PGlite driver adapter, because the CLI's native engine cannot be downloaded here
 * (../shared/notes/prisma.md). Used by the drift test and by scripts/migration-diff.ts; never at
 * run time (Tessera applies migrations itself, src/store/migrations.ts).
 */
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { bindMigrationAwareSqlAdapterFactory } from "@prisma/driver-adapter-utils";
import { PrismaPGlite } from "pglite-prisma-adapter";
import type { DiffTarget, MigrationList, SchemaEngine } from "@prisma/schema-engine-wasm";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const SCHEMA_PATH = path.join(ROOT, "prisma/schema.prisma");
export const MIGRATIONS_PATH = path.join(ROOT, "prisma/migrations");

const require = createRequire(import.meta.url);

/** Instantiates the wasm by hand: Node 20 cannot `import` a .wasm module. */
async function loadEngineModule(): Promise<typeof import("@prisma/schema-engine-wasm/schema_engine_bg")> {
  const bindingsPath = require.resolve("@prisma/schema-engine-wasm/schema_engine_bg");
  const packageDir = path.dirname(bindingsPath);
  const bindings = await import(bindingsPath);
  const { instance } = await WebAssembly.instantiate(readFileSync(path.join(packageDir, "schema_engine_bg.wasm")), {
    "./schema_engine_bg.js": bindings,
  });
  bindings.__wbg_set_wasm(instance.exports);
  (instance.exports as { __wbindgen_start: () => void }).__wbindgen_start();
  return bindings;
}

/** Runs `fn` with a schema engine for `schema` on a throwaway in-memory PGlite. */
export async function withSchemaEngine<T>(schema: string, fn: (engine: SchemaEngine) => Promise<T>): Promise<T> {
  const bindings = await loadEngineModule();
  const pglite = new PGlite();
  const adapter = bindMigrationAwareSqlAdapterFactory(new PrismaPGlite(pglite));
  const engine: SchemaEngine = await bindings.SchemaEngine.new({ datamodels: [[SCHEMA_PATH, schema]] }, () => {}, adapter);
  try {
    return await fn(engine);
  } finally {
    engine.free();
    await pglite.close();
  }
}

export function readMigrationList(migrationsPath = MIGRATIONS_PATH): MigrationList {
  const lockPath = path.join(migrationsPath, "migration_lock.toml");
  const directories = existsSync(migrationsPath)
    ? readdirSync(migrationsPath, { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .map((entry) => entry.name)
        .sort()
    : [];
  return {
    baseDir: migrationsPath,
    lockfile: { path: lockPath, content: existsSync(lockPath) ? readFileSync(lockPath, "utf8") : null },
    shadowDbInitScript: "",
    migrationDirectories: directories.map((name) => {
      const file = path.join(migrationsPath, name, "migration.sql");
      return {
        path: path.join(migrationsPath, name),
        migrationFile: {
          path: file,
          content: existsSync(file) ? { tag: "ok", value: readFileSync(file, "utf8") } : { tag: "error", value: "missing migration.sql" },
        },
      };
    }),
  } as MigrationList;
}

/** The SQL that takes `from` to the schema; empty when they agree. */
export async function diffToSchema(schema: string, from: DiffTarget): Promise<string> {
  return withSchemaEngine(schema, async (engine) => {
    const result = await engine.diff({
      from,
      to: { tag: "schemaDatamodel", files: [{ path: SCHEMA_PATH, content: schema }] },
      script: true,
      exitCode: true,
      filters: { externalTables: [], externalEnums: [] },
    });
    return result.exitCode === 2 ? (result.stdout ?? "") : "";
  });
}

export function migrationsTarget(migrationsPath = MIGRATIONS_PATH): DiffTarget {
  return { tag: "migrations", ...readMigrationList(migrationsPath) };
}
