/**
 * The PostgreSQL at 127.0.0.1:5432 (trust auth), with a fresh schema per test run so runs never
 * see each other's data.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

export const POSTGRES_BASE_URL = process.env.TESSERA_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export interface TestSchema {
  readonly name: string;
  /** DATABASE_URL selecting the schema the way Prisma does (?schema=). */
  readonly url: string;
  drop(): Promise<void>;
}

export async function createTestSchema(prefix = "test"): Promise<TestSchema> {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  const client = new pg.Client({ connectionString: POSTGRES_BASE_URL });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA "${name}"`);
  } finally {
    await client.end();
  }
  return {
    name,
    url: `${POSTGRES_BASE_URL}?schema=${name}`,
    drop: () => dropSchema(name),
  };
}

export async function dropSchema(name: string): Promise<void> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`not a schema name: ${name}`);
  const admin = new pg.Client({ connectionString: POSTGRES_BASE_URL });
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
  } finally {
    await admin.end();
  }
}
