/**
 * UsedAssertionRepository: one statement records a used assertion or finds it already recorded,
 * so two replicas racing on the same assertion cannot both see it as new. The records are
 * written on the token path (every DPoP proof, private_key_jwt assertion and single-use
 * federated token), so they go as plain SQL on a pooled connection: through the ORM each
 * statement cost the event loop about twice as much (docs/performance.md). The purge, off the
 * request path, stays with Prisma.
 */
import type { UsedAssertionRepository } from "../oauth/client-authentication/assertion-replay-guard.js";
import type { Database } from "./database.js";

/** The key, then the expiry: a live row makes the insert a no-op, an expired one not yet purged is taken over. */
const RECORD_IF_ABSENT = `
  INSERT INTO "used_assertions" ("key", "expire_time")
  SELECT * FROM unnest($1::text[], $2::timestamptz[])
  ON CONFLICT ("key") DO UPDATE SET "expire_time" = EXCLUDED."expire_time"
    WHERE "used_assertions"."expire_time" <= $3
  RETURNING "key"`;

export class PrismaUsedAssertionRepository implements UsedAssertionRepository {
  constructor(private readonly database: Pick<Database, "prisma" | "sql">) {}

  async recordIfAbsent(input: { key: string; expireTime: Date; now: Date }): Promise<boolean> {
    const rows = await this.database.sql.query(RECORD_IF_ABSENT, [[input.key], [input.expireTime], input.now]);
    return rows.length === 1;
  }

  async recordAllIfAbsent(input: { entries: readonly { key: string; expireTime: Date }[]; now: Date }): Promise<ReadonlySet<string>> {
    if (input.entries.length === 0) return new Set();
    // One statement for the batch; the keys are distinct (ON CONFLICT may touch a row only once).
    const rows = await this.database.sql.query<{ key: string }>(RECORD_IF_ABSENT, [
      input.entries.map((entry) => entry.key),
      input.entries.map((entry) => entry.expireTime),
      input.now,
    ]);
    return new Set(rows.map((row) => row.key));
  }

  async purgeExpired(now: Date): Promise<number> {
    return (await this.database.prisma.usedAssertion.deleteMany({ where: { expireTime: { lte: now } } })).count;
  }
}
