/**
 * UsedAssertionRepository on Prisma: one statement records a used assertion or finds it already
 * recorded, so two replicas racing on the same assertion cannot both see it as new.
 */
import type { UsedAssertionRepository } from "../oauth/client-authentication/assertion-replay-guard.js";
import type { PrismaClient } from "./generated/client.js";

export class PrismaUsedAssertionRepository implements UsedAssertionRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async recordIfAbsent(input: { key: string; expireTime: Date; now: Date }): Promise<boolean> {
    // An expired row not yet purged is taken over; a live one makes the insert a no-op, and
    // RETURNING then yields nothing.
    const rows = await this.prisma.$queryRaw<unknown[]>`
      INSERT INTO "used_assertions" ("key", "expire_time") VALUES (${input.key}, ${input.expireTime})
      ON CONFLICT ("key") DO UPDATE SET "expire_time" = EXCLUDED."expire_time"
        WHERE "used_assertions"."expire_time" <= ${input.now}
      RETURNING "key"`;
    return rows.length === 1;
  }

  async recordAllIfAbsent(input: { entries: readonly { key: string; expireTime: Date }[]; now: Date }): Promise<ReadonlySet<string>> {
    if (input.entries.length === 0) return new Set();
    // One statement for the batch; the keys are distinct (ON CONFLICT may touch a row only once).
    const rows = await this.prisma.$queryRaw<{ key: string }[]>`
      INSERT INTO "used_assertions" ("key", "expire_time")
      SELECT * FROM unnest(${input.entries.map((entry) => entry.key)}::text[], ${input.entries.map((entry) => entry.expireTime)}::timestamptz[])
      ON CONFLICT ("key") DO UPDATE SET "expire_time" = EXCLUDED."expire_time"
        WHERE "used_assertions"."expire_time" <= ${input.now}
      RETURNING "key"`;
    return new Set(rows.map((row) => row.key));
  }

  async purgeExpired(now: Date): Promise<number> {
    return (await this.prisma.usedAssertion.deleteMany({ where: { expireTime: { lte: now } } })).count;
  }
}
