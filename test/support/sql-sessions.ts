/**
 * Minimal SqlSession adapters for store tests, independent of src/store/database.ts so the
 * migration runner can be tested on its own.
 */
import type { PGlite } from "@electric-sql/pglite";
import type pg from "pg";
import type { SqlSession } from "../../src/store/sql-connection.js";

/** PGlite is one connection: the session is the database itself, and release does nothing. */
export function pgliteSession(db: PGlite): SqlSession {
  return {
    exec: async (sql) => {
      await db.exec(sql);
    },
    query: async <Row extends Record<string, unknown>>(sql: string, params?: readonly unknown[]) =>
      (await db.query<Row>(sql, params ? [...params] : undefined)).rows,
    release: async () => {},
  };
}

/** One node-postgres client: exec is a simple query (several statements), query is extended. */
export function pgSession(client: pg.Client): SqlSession {
  return {
    exec: async (sql) => {
      await client.query(sql);
    },
    query: async <Row extends Record<string, unknown>>(sql: string, params?: readonly unknown[]) =>
      (await client.query<Row>(sql, params ? [...params] : undefined)).rows,
    release: async () => {
      await client.end();
    },
  };
}
