/**
 * Benchmark clients: registered through Tessera's admin API (Connect JSON, admin bearer token)
 * for the small sets, or inserted in bulk straight into PostgreSQL for the large ones.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

export const BENCH_SCOPE = "bench:read";
export const POSTGRES_BASE_URL = "postgres://postgres@127.0.0.1:5432/test";

export interface BenchClient {
  readonly clientId: string;
  readonly clientSecret: string;
}

export function basicAuthorization(client: BenchClient): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`).toString("base64")}`;
}

export const TOKEN_REQUEST_BODY = new URLSearchParams({ grant_type: "client_credentials", scope: BENCH_SCOPE }).toString();

/** A token from POST <tokenUrl> with client_secret_basic; throws on anything but 200. */
export async function fetchToken(tokenUrl: string, client: BenchClient, extra: Record<string, string> = {}): Promise<string> {
  const response = await fetch(tokenUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(client) },
    body: new URLSearchParams({ grant_type: "client_credentials", scope: BENCH_SCOPE, ...extra }),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`token request to ${tokenUrl} failed: ${response.status} ${text}`);
  return (JSON.parse(text) as { access_token: string }).access_token;
}

export interface AdminApi {
  createClient(input: { name: string; signingAlgorithm?: "ES256"; audiences?: readonly string[] }): Promise<BenchClient>;
}

export async function adminApi(baseUrl: string, admin: BenchClient): Promise<AdminApi> {
  const adminToken = await fetchToken(`${baseUrl}/oauth/token`, admin, { scope: "tessera:admin" });
  return {
    async createClient(input) {
      const response = await fetch(`${baseUrl}/tessera.v1.ClientAdminService/CreateClient`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${adminToken}` },
        body: JSON.stringify({
          name: input.name,
          scopes: [BENCH_SCOPE],
          ...(input.audiences ? { audiences: input.audiences } : {}),
          ...(input.signingAlgorithm ? { signingAlgorithm: `SIGNING_ALGORITHM_${input.signingAlgorithm}` } : {}),
        }),
      });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`CreateClient failed: ${response.status} ${text}`);
      const created = JSON.parse(text) as { client: { clientId: string }; clientSecret: string };
      return { clientId: created.client.clientId, clientSecret: created.clientSecret };
    },
  };
}

/** Registers `count` clients through the admin API, a few at a time. */
export async function registerClients(api: AdminApi, count: number, options: { prefix: string; signingAlgorithm?: "ES256" }): Promise<BenchClient[]> {
  const clients: BenchClient[] = [];
  for (let start = 0; start < count; start += 8) {
    const batch = Array.from({ length: Math.min(8, count - start) }, (_, i) =>
      api.createClient({ name: `${options.prefix}-${start + i}`, ...(options.signingAlgorithm ? { signingAlgorithm: options.signingAlgorithm } : {}) }),
    );
    clients.push(...(await Promise.all(batch)));
  }
  return clients;
}

/** A random secret of the shape Tessera generates (32 random bytes, base64url: 43 characters). */
export function randomSecret(): string {
  return randomBytes(32).toString("base64url");
}

export async function withPostgres<T>(work: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = new pg.Client({ connectionString: POSTGRES_BASE_URL });
  await db.connect();
  try {
    return await work(db);
  } finally {
    await db.end();
  }
}

export function assertSchemaName(schema: string): void {
  if (!/^bench_[a-z0-9]+$/.test(schema)) throw new Error(`not a benchmark schema name: ${schema}`);
}

/**
 * Bulk-inserts `count` active clients (scope bench:read, server-default algorithm) and their
 * current secrets into `schema`, as the store would have written them: the secret hash is the
 * lowercase hex SHA-256 of the secret, slot 'current', algorithm 'sha256'. Secret i is
 * `<prefix><i, 11 digits>`: 43 characters like a generated one, and computable by the caller.
 */
export async function insertClients(schema: string, count: number): Promise<{ clientAt(index: number): BenchClient; count: number }> {
  assertSchemaName(schema);
  const prefix = randomBytes(24).toString("base64url"); // 32 characters
  const id = `'bench-' || lpad(i::text, 7, '0')`;
  const secret = `$2::text || lpad(i::text, 11, '0')`;
  await withPostgres(async (db) => {
    await db.query("BEGIN");
    await db.query(
      `INSERT INTO "${schema}"."clients" (id, name, allowed_scopes, default_scopes, allowed_audiences, default_audiences, update_time)
       SELECT ${id}, 'bench client ' || i, ARRAY[$2::text], ARRAY[$2::text], ARRAY[]::text[], ARRAY[]::text[], now()
       FROM generate_series(1, $1::int) AS i`,
      [count, BENCH_SCOPE],
    );
    await db.query(
      `INSERT INTO "${schema}"."client_secrets" (id, client_id, slot, algorithm, hash, last_four)
       SELECT gen_random_uuid(), ${id}, 'current', 'sha256', encode(sha256(convert_to(${secret}, 'UTF8')), 'hex'), right(${secret}, 4)
       FROM generate_series(1, $1::int) AS i`,
      [count, prefix],
    );
    await db.query("COMMIT");
  });
  return {
    count,
    clientAt: (index) => ({ clientId: `bench-${String(index).padStart(7, "0")}`, clientSecret: `${prefix}${String(index).padStart(11, "0")}` }),
  };
}
