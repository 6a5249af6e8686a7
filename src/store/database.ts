/**
 * Opening the database: embedded PGlite in a data directory when no DATABASE_URL is set, or
 * PostgreSQL through node-postgres. Both give a Prisma client (driver adapters, no Rust
 * engine) and raw sessions for migrations and locks. This module and its siblings in
 * src/store/ are the only code that knows Prisma or the engines exist.
 */
import path from "node:path";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { ensurePrivateDataDirectory, lockDataDirectory, tightenOwnDirectory } from "../data-directory.js";
import { PrismaClient } from "./generated/client.js";
import type { SqlConnection, SqlSession } from "./sql-connection.js";

/** Where the data lives: an embedded PGlite data directory, or a PostgreSQL server. */
export type StorageConfig =
  | { readonly kind: "embedded"; readonly dataDir: string }
  | { readonly kind: "postgres"; readonly url: string };

export interface Database {
  readonly kind: StorageConfig["kind"];
  readonly prisma: PrismaClient;
  /** The schema holding Tessera's tables ("public" on the embedded database). */
  readonly schema: string;
  /** A raw session on one connection, for migrations, advisory locks and probes. */
  session(): Promise<SqlSession>;
  /**
   * One-shot parameterised statements on any pooled connection, for the few statements on the
   * token path (replay records) where the ORM's per-query work costs more than the statement.
   */
  readonly sql: SqlConnection;
  /**
   * LISTENs on a channel until the returned function is called. On PostgreSQL this holds a
   * dedicated connection and re-establishes it after failures, calling `onReconnect` each time
   * (notifications sent while it was down are lost).
   */
  listen(channel: string, handlers: ListenHandlers): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface ListenHandlers {
  onMessage(payload: string): void;
  onReconnect(): void;
}

const CHANNEL_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 10_000;

/** Short enough that the change channel ("tessera_changes_" + schema) is a valid identifier. */
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,46}$/;

export async function openDatabase(storage: StorageConfig): Promise<Database> {
  return storage.kind === "embedded" ? openEmbedded(storage.dataDir) : openPostgres(storage.url);
}

async function openEmbedded(dataDir: string): Promise<Database> {
  // PGlite does not create missing parents.
  ensurePrivateDataDirectory(dataDir);
  // Loaded only when used: a replica on PostgreSQL never pays for the WebAssembly engine and
  // the resident memory it takes.
  const [{ PGlite }, { PrismaPGlite }] = await Promise.all([import("@electric-sql/pglite"), import("pglite-prisma-adapter")]);
  // One data directory belongs to one process.
  const unlock = lockDataDirectory(dataDir);
  const pgliteDir = path.join(dataDir, "pglite");
  const pglite = new PGlite(pgliteDir);
  try {
    await pglite.waitReady;
    tightenOwnDirectory(pgliteDir);
  } catch (error) {
    unlock();
    throw error;
  }
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
  // PGlite is a single connection: a "session" is that connection, and release is a no-op.
  const session: SqlSession = {
    exec: async (sql) => {
      await pglite.exec(sql);
    },
    query: async <Row extends Record<string, unknown>>(sql: string, params?: readonly unknown[]) =>
      (await pglite.query<Row>(sql, params ? [...params] : undefined)).rows,
    release: async () => {},
  };
  return {
    kind: "embedded",
    prisma,
    schema: "public",
    session: async () => session,
    sql: session,
    listen: async (channel, handlers) => pglite.listen(channel, (payload) => handlers.onMessage(payload)),
    close: async () => {
      try {
        await prisma.$disconnect();
        await pglite.close();
      } finally {
        unlock();
      }
    },
  };
}

/** Connection options for a DATABASE_URL, honouring Prisma's `?schema=` parameter. */
export function postgresConnection(url: string): { poolConfig: pg.PoolConfig; schema: string } {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get("schema") ?? "public";
  if (!SCHEMA_NAME.test(schema)) throw new Error("DATABASE_URL ?schema= must be a plain SQL identifier");
  parsed.searchParams.delete("schema");
  return {
    schema,
    poolConfig: {
      connectionString: parsed.toString(),
      options: `-c search_path=${schema}`,
      max: 10,
      connectionTimeoutMillis: 5_000,
      application_name: "tessera",
    },
  };
}

async function openPostgres(url: string): Promise<Database> {
  const { poolConfig, schema } = postgresConnection(url);
  const pool = new pg.Pool(poolConfig);
  // A connection dropping (database restart, network cut) emits 'error' on its client; with no
  // listener that is an uncaught exception that would take the process down. Queries in flight
  // still reject and are reported; idle clients are still evicted by the pool's own listener.
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  const client = await pool.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  } finally {
    client.release();
  }
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool, { schema }) });
  return {
    kind: "postgres",
    prisma,
    schema,
    session: async () => {
      const connection = await pool.connect();
      return {
        exec: async (sql) => {
          await connection.query(sql);
        },
        query: async <Row extends Record<string, unknown>>(sql: string, params?: readonly unknown[]) =>
          (await connection.query<Row>(sql, params ? [...params] : undefined)).rows,
        release: async () => connection.release(),
      };
    },
    sql: {
      exec: async (sql) => {
        await pool.query(sql);
      },
      query: async <Row extends Record<string, unknown>>(sql: string, params?: readonly unknown[]) => (await pool.query<Row>(sql, params ? [...params] : undefined)).rows,
    },
    listen: (channel, handlers) => listenOnPostgres(poolConfig, channel, handlers),
    close: async () => {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

async function listenOnPostgres(poolConfig: pg.PoolConfig, channel: string, handlers: ListenHandlers): Promise<() => Promise<void>> {
  if (!CHANNEL_NAME.test(channel)) throw new Error(`not a channel name: ${channel}`);
  let stopped = false;
  let client: pg.Client | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let delay = RECONNECT_MIN_MS;

  const connect = async (): Promise<void> => {
    const candidate = new pg.Client({ ...poolConfig, application_name: "tessera-listen" });
    candidate.on("error", () => {});
    candidate.on("notification", (message) => {
      if (message.channel === channel && message.payload !== undefined) handlers.onMessage(message.payload);
    });
    candidate.on("end", () => {
      if (client === candidate) client = undefined;
      if (!stopped) scheduleReconnect();
    });
    await candidate.connect();
    try {
      await candidate.query(`LISTEN "${channel}"`);
    } catch (error) {
      await candidate.end().catch(() => {});
      throw error;
    }
    client = candidate;
  };
  const scheduleReconnect = () => {
    if (stopped || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      connect().then(
        () => {
          delay = RECONNECT_MIN_MS;
          handlers.onReconnect();
        },
        () => {
          delay = Math.min(delay * 2, RECONNECT_MAX_MS);
          scheduleReconnect();
        },
      );
    }, delay);
    retryTimer.unref();
  };

  await connect();
  return async () => {
    stopped = true;
    clearTimeout(retryTimer);
    await client?.end().catch(() => {});
  };
}
