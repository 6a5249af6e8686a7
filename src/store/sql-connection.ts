/**
 * The smallest raw-SQL surface the store needs beside Prisma: running migration scripts,
 * taking advisory locks, LISTEN/NOTIFY. Implemented once for PGlite and once for node-postgres
 * (src/store/database.ts), so code above it never asks which engine it runs on.
 */
export interface SqlConnection {
  /** Runs a script of one or more statements as a single simple query (no parameters). */
  exec(sql: string): Promise<void>;
  /** Runs one parameterised statement and returns its rows. */
  query<Row extends Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
}

/** A SqlConnection that holds one session until released (advisory locks are per session). */
export interface SqlSession extends SqlConnection {
  release(): Promise<void>;
}
