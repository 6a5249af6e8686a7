/**
 * Refresh-token chains in storage, on the embedded database and on PostgreSQL: a chain's rows go
 * as a whole once its newest token has been expired for the retention period — until then a
 * replayed old token is still recognised as reuse and revokes the access tokens the chain issued;
 * revoking a chain also ends a successor committed meanwhile; no token outlives its chain's
 * maximum lifetime.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { NewClient } from "../../src/clients/client-repository.js";
import type { ClientRecord } from "../../src/clients/client.js";
import { generateClientSecret } from "../../src/clients/client-secret.js";
import { RefreshTokens } from "../../src/oauth/refresh-tokens.js";
import type { Revocation } from "../../src/oauth/revocation-list.js";
import { PrismaClientRepository } from "../../src/store/client-store.js";
import type { Database } from "../../src/store/database.js";
import { PrismaRefreshTokenRepository } from "../../src/store/refresh-token-store.js";
import { newClientFixture } from "../support/client-fixture.js";
import { DATABASE_BACKENDS } from "../support/databases.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const CLIENT: NewClient = newClientFixture({
  id: "chain-holder",
  allowedScopes: ["a"],
  defaultScopes: ["a"],
  refreshTokensEnabled: true,
  tokensNotBefore: new Date(0),
});

/** Waits (at most ~5 s) until some statement on refresh_tokens waits for a row lock. */
async function untilBlockedOnRowLock(database: Database): Promise<void> {
  const observer = await database.session();
  try {
    for (let attempt = 0; attempt < 250; attempt++) {
      const [row] = await observer.query<{ waiting: number }>(
        `SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE '%refresh_tokens%'`,
      );
      if (row!.waiting > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error("the revocation never waited for the redemption's row lock");
  } finally {
    await observer.release();
  }
}

describe.each(DATABASE_BACKENDS)("refresh-token chains on $name", (backend) => {
  let database: Database;
  let discard: () => Promise<void>;
  let record: ClientRecord;
  let time: number;
  let revoked: Revocation[];
  let refreshTokens: RefreshTokens;
  let jtis = 0;

  /** A stand-in for the access-token issuer: a day-long token with a fresh jti. */
  const issueAccessToken = async () => ({ jti: `jti-${++jtis}`, expireTime: new Date(time + 24 * HOUR) });
  const rows = () => database.prisma.refreshToken.count();

  beforeEach(async () => {
    ({ database, discard } = await backend.open());
    record = await new PrismaClientRepository(database.prisma).createClient({
      client: CLIENT,
      secret: generateClientSecret("current").stored,
      audit: { actor: "test", action: "client.create", targetClientId: CLIENT.id, outcome: "success" },
    });
    time = Date.parse("2027-03-01T00:00:00Z");
    revoked = [];
    refreshTokens = new RefreshTokens({
      repository: new PrismaRefreshTokenRepository(database.prisma),
      lifetimeSeconds: 3_600,
      maxChainLifetimeSeconds: 2 * 3_600,
      endedChainRetentionSeconds: 3_600,
      accessTokenRevocations: { revoke: async (revocation) => void revoked.push(revocation) },
      now: () => new Date(time),
    });
  });
  afterEach(async () => discard());

  it("purges a chain only once its newest token has been expired for the retention period, and reuse is caught until then", async () => {
    const first = await issueAccessToken();
    const longChain = await refreshTokens.startChain(record, { scopes: ["a"], audiences: [], accessToken: first });
    await refreshTokens.startChain(record, { scopes: ["a"], audiences: [], accessToken: await issueAccessToken() });
    time += 50 * MINUTE;
    const redeemed = await refreshTokens.redeem(record, longChain, { scopes: undefined, audiences: [], issueAccessToken });
    expect(await rows()).toBe(3);

    // The short chain ended at 1h, the long one's newest token expires at 1h50m.
    time = Date.parse("2027-03-01T02:05:00Z");
    expect(await refreshTokens.purge(new Date(time))).toBe(1);
    expect(await rows()).toBe(2);

    // The long chain's used first token is still known: replaying it is reuse, and ending the
    // chain revokes both access tokens it issued.
    await expect(refreshTokens.redeem(record, longChain, { scopes: undefined, audiences: [], issueAccessToken })).rejects.toMatchObject({
      code: "invalid_grant",
      description: expect.stringContaining("already used"),
    });
    expect(revoked.map((revocation) => revocation.jti).sort()).toEqual([first.jti, redeemed.accessToken.jti].sort());
    expect(revoked.every((revocation) => revocation.clientId === CLIENT.id)).toBe(true);

    time = Date.parse("2027-03-01T02:49:00Z");
    expect(await refreshTokens.purge(new Date(time))).toBe(0);
    time = Date.parse("2027-03-01T02:51:00Z");
    expect(await refreshTokens.purge(new Date(time))).toBe(2);
    expect(await rows()).toBe(0);
  });

  // Row locks across two connections: the embedded database has one connection only.
  if (backend.name === "PostgreSQL") {
    it(
      "ends a successor whose redemption committed while the chain was being revoked",
      async () => {
        await refreshTokens.startChain(record, { scopes: ["a"], audiences: [], accessToken: await issueAccessToken() });
        const stored = await database.prisma.refreshToken.findFirstOrThrow({ where: { clientId: CLIENT.id } });
        const repository = new PrismaRefreshTokenRepository(database.prisma);
        // A redemption in flight on its own connection: the current token marked used, its successor
        // inserted, not yet committed.
        const redemption = await database.session();
        try {
          await redemption.exec("BEGIN");
          await redemption.query(`UPDATE "refresh_tokens" SET "use_time" = now() WHERE "id" = $1`, [stored.id]);
          await redemption.query(
            `INSERT INTO "refresh_tokens" ("id", "hash", "client_id", "chain_id", "scopes", "audiences", "secret_hash", "expire_time", "chain_start_time", "access_token_jti", "access_token_expire_time")
             SELECT gen_random_uuid(), 'successor', "client_id", "chain_id", "scopes", "audiences", "secret_hash", "expire_time", "chain_start_time", 'successor-jti', $2
             FROM "refresh_tokens" WHERE "id" = $1`,
            [stored.id, new Date(time + HOUR)],
          );
          // Reuse detected meanwhile: the revocation waits for the redemption's row lock.
          const revocation = repository.revokeRefreshTokenChain(stored.chainId, new Date(time));
          await untilBlockedOnRowLock(database);
          await redemption.exec("COMMIT");
          const accessTokens = await revocation;
          expect(accessTokens.map((token) => token.jti)).toContain("successor-jti");
        } finally {
          await redemption.release();
        }
        const successor = await database.prisma.refreshToken.findUniqueOrThrow({ where: { hash: "successor" } });
        expect(successor.useTime).not.toBeNull();
      },
    );
  }

  it("caps each successor's expiry at the chain's start plus the maximum chain lifetime", async () => {
    const started = time;
    let token = await refreshTokens.startChain(record, { scopes: ["a"], audiences: [], accessToken: await issueAccessToken() });
    for (const minutes of [45, 45]) {
      time += minutes * MINUTE;
      token = (await refreshTokens.redeem(record, token, { scopes: undefined, audiences: [], issueAccessToken })).refreshToken;
    }
    // Redeemed at 01:30: its own hour would end at 02:30, the chain ends at 02:00.
    expect((await refreshTokens.describe(record, token))?.expireTime).toEqual(new Date(started + 2 * HOUR));
    time = started + 2 * HOUR;
    await expect(refreshTokens.redeem(record, token, { scopes: undefined, audiences: [], issueAccessToken })).rejects.toMatchObject({
      code: "invalid_grant",
      description: "refresh token has expired",
    });
  });
});
