/**
 * Prisma's schema engine, offline: the wasm build (`@prisma/schema-engine-wasm`) driven through a
 * PGlite driver adapter, because `prisma migrate …` always spawns the native engine, which cannot
 * be downloaded here (../shared/notes/prisma.md). Used by the schema-drift test and by
 * scripts/migration-diff.ts; never at run time (Tessera applies migrations itself,
 * src/store/migrations.ts).
 *
 * The wasm glue and the `.wasm` must come from the same package version (pinned in package.json).
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
} from "@prisma/driver-adapter-utils";
import type { DiffTarget, MigrationList, SchemaContainer, SchemaEngine, SchemaFilter } from "@prisma/schema-engine-wasm";
import { PrismaPGlite } from "pglite-prisma-adapter";

export type { DiffTarget, MigrationList, SchemaEngine } from "@prisma/schema-engine-wasm";

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const SCHEMA_PATH = path.join(PROJECT_ROOT, "prisma/schema.prisma");
export const MIGRATIONS_DIR = path.join(PROJECT_ROOT, "prisma/migrations");

/** One Prisma schema file: the engine takes (path, content) pairs, never reads the disk itself. */
export type SchemaFile = SchemaContainer;

/** prisma.config.ts declares no external tables or enums, so nothing is filtered out. */
export const NO_FILTERS: SchemaFilter = { externalTables: [], externalEnums: [] };

type EngineBindings = typeof import("@prisma/schema-engine-wasm/schema_engine_bg");

let bindings: Promise<EngineBindings> | undefined;

/**
 * Instantiates the wasm by hand, once per process. The package's entry point does
 * `import * as wasm from "./schema_engine_bg.wasm"`, which Node 20 cannot load; the glue module
 * (`schema_engine_bg.js`) is its only import and keeps the instance in a module-level variable,
 * so instantiating again would swap the memory under engines that are still alive.
 */
function loadBindings(): Promise<EngineBindings> {
  bindings ??= (async () => {
    const require = createRequire(import.meta.url);
    const gluePath = require.resolve("@prisma/schema-engine-wasm/schema_engine_bg");
    const glue: EngineBindings = await import("@prisma/schema-engine-wasm/schema_engine_bg");
    const wasmBytes = readFileSync(path.join(path.dirname(gluePath), "schema_engine_bg.wasm"));
    const { instance } = await WebAssembly.instantiate(wasmBytes, { "./schema_engine_bg.js": glue });
    glue.__wbg_set_wasm(instance.exports);
    (instance.exports as { __wbindgen_start(): void }).__wbindgen_start();
    return glue;
  })();
  return bindings;
}

/** The engine's version string, e.g. to check the glue and the wasm match. */
export async function schemaEngineVersion(): Promise<string> {
  return (await loadBindings()).version();
}

let emptyCluster: Promise<Blob> | undefined;

/**
 * An empty in-memory PGlite. Only the first one per process runs initdb (~3.5 s, ~800 MB peak);
 * it is dumped before anyone touches it and the others load that dump (~0.6 s each), which
 * matters because every `migrations` diff needs a fresh shadow database (prisma.md measures the
 * same gap).
 */
async function openEmptyDatabase(): Promise<PGlite> {
  if (emptyCluster === undefined) {
    const first = new PGlite();
    emptyCluster = first.waitReady.then(() => first.dumpDataDir("none"));
    try {
      await emptyCluster;
    } catch (error) {
      emptyCluster = undefined;
      await first.close().catch(() => {});
      throw error;
    }
    return first;
  }
  const pglite = new PGlite({ loadDataDir: await emptyCluster });
  await pglite.waitReady;
  return pglite;
}

/**
 * pglite-prisma-adapter 0.7.2's `executeScript` calls `exec()` without awaiting it, so the engine
 * sees every script succeed and the failure surfaces later as an unhandled rejection (prisma.md).
 * The engine replays migrations through `executeScript`, so await it, and convert errors with the
 * adapter's own converter so the engine reports them like any database error.
 */
function withAwaitedScripts(adapter: SqlDriverAdapter, pglite: PGlite): SqlDriverAdapter {
  const convertError = (adapter as unknown as { onError(error: unknown): never }).onError.bind(adapter);
  adapter.executeScript = async (script: string) => {
    try {
      await pglite.exec(script);
    } catch (error) {
      convertError(error);
    }
  };
  return adapter;
}

/**
 * A migration-aware adapter factory over in-memory PGlite databases that it closes itself. The
 * engine probes the main database once when built and expects every shadow database to be empty:
 * it replays the migrations into it without resetting it first, so a reused one would fail with
 * "already exists". The library's own `connectToShadowDb` opens a fresh PGlite that nobody closes
 * (the process then lingers); here each shadow is closed when the engine disposes of it.
 */
class InMemoryPGliteFactory implements SqlMigrationAwareDriverAdapterFactory {
  readonly provider = "postgres";
  readonly adapterName = "pglite-prisma-adapter";
  readonly #open = new Set<PGlite>();

  async connect(): Promise<SqlDriverAdapter> {
    return (await this.#connectWithDatabase()).adapter;
  }

  async connectToShadowDb(): Promise<SqlDriverAdapter> {
    const { adapter, pglite } = await this.#connectWithDatabase();
    adapter.dispose = async () => {
      this.#open.delete(pglite);
      await pglite.close();
    };
    return adapter;
  }

  async #connectWithDatabase(): Promise<{ adapter: SqlDriverAdapter; pglite: PGlite }> {
    const pglite = await openEmptyDatabase();
    this.#open.add(pglite);
    return { adapter: withAwaitedScripts(await new PrismaPGlite(pglite).connect(), pglite), pglite };
  }

  async close(): Promise<void> {
    const open = [...this.#open];
    this.#open.clear();
    await Promise.all(open.map((pglite) => pglite.close()));
  }
}

export interface SchemaEngineOptions {
  /** The datamodel the engine is built with; defaults to prisma/schema.prisma. */
  readonly schemaFiles?: readonly SchemaFile[];
  /** Receives the engine's log lines (JSON strings); dropped by default. */
  readonly log?: (line: string) => void;
}

/**
 * Runs `fn` with a schema engine on throwaway in-memory PGlite databases, then frees the engine
 * and closes the databases (otherwise the process lingers for seconds after the work is done).
 */
export async function withSchemaEngine<T>(fn: (engine: SchemaEngine) => Promise<T>, options: SchemaEngineOptions = {}): Promise<T> {
  const glue = await loadBindings();
  const schemaFiles = options.schemaFiles ?? readSchemaFiles();
  const factory = new InMemoryPGliteFactory();
  try {
    const engine = await glue.SchemaEngine.new(
      { datamodels: schemaFiles.map((file): [string, string] => [file.path, file.content]) },
      options.log ?? (() => {}),
      bindMigrationAwareSqlAdapterFactory(factory),
    );
    try {
      return await fn(engine);
    } finally {
      engine.free();
    }
  } finally {
    await factory.close();
  }
}

export function readSchemaFiles(schemaPath = SCHEMA_PATH): SchemaFile[] {
  return [{ path: schemaPath, content: readFileSync(schemaPath, "utf8") }];
}

/**
 * The migrations folder in the shape the engine expects, built the way the Prisma 7.10 CLI builds
 * it before every migrate command (`build/cli.js`): lock file and directory paths relative to
 * `baseDir`, every sub-directory a migration whose `migration.sql` may be unreadable (the engine
 * reports it), sorted with localeCompare.
 */
export function readMigrationList(migrationsDir = MIGRATIONS_DIR): MigrationList {
  const lockfilePath = path.join(migrationsDir, "migration_lock.toml");
  const names = existsSync(migrationsDir)
    ? readdirSync(migrationsDir, { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .map((entry) => entry.name)
        .sort((a, b) => a.localeCompare(b))
    : [];
  return {
    baseDir: migrationsDir,
    lockfile: { path: "migration_lock.toml", content: existsSync(lockfilePath) ? readFileSync(lockfilePath, "utf8") : null },
    shadowDbInitScript: "",
    migrationDirectories: names.map((name) => {
      const file = path.join(migrationsDir, name, "migration.sql");
      let content: MigrationList["migrationDirectories"][number]["migrationFile"]["content"];
      try {
        content = { tag: "ok", value: readFileSync(file, "utf8") };
      } catch (error) {
        content = { tag: "error", value: (error as Error).message };
      }
      return { path: name, migrationFile: { path: "migration.sql", content } };
    }),
  };
}

/** The migrations folder as a diff source: the schema its migrations produce when replayed. */
export function migrationsTarget(migrationsDir = MIGRATIONS_DIR): DiffTarget & { tag: "migrations" } {
  return { tag: "migrations", ...readMigrationList(migrationsDir) };
}

export function schemaTarget(schemaFiles: readonly SchemaFile[] = readSchemaFiles()): DiffTarget {
  return { tag: "schemaDatamodel", files: [...schemaFiles] };
}

/**
 * The SQL that takes `from` to the schema, as `prisma migrate diff --script --exit-code` prints
 * it; `upToDate` is true when there is nothing to do (the engine's exit code 0, not 2).
 */
export async function diffToSchema(
  from: DiffTarget,
  options: { schemaFiles?: readonly SchemaFile[] } = {},
): Promise<{ upToDate: boolean; sql: string }> {
  const schemaFiles = options.schemaFiles ?? readSchemaFiles();
  return withSchemaEngine(
    async (engine) => {
      const result = await engine.diff({ from, to: schemaTarget(schemaFiles), script: true, exitCode: true, filters: NO_FILTERS });
      return { upToDate: result.exitCode === 0, sql: result.stdout ?? "" };
    },
    { schemaFiles },
  );
}
