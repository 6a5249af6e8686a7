/**
 * RefreshTokenRepository on Prisma.
 */
import type { ChainAccessToken, RefreshTokenRepository, StoredRefreshToken } from "../oauth/refresh-tokens.js";
import type { PrismaClient } from "./generated/client.js";
import type { RefreshTokenModel as RefreshTokenRow } from "./generated/models.js";

function toStored(row: RefreshTokenRow): StoredRefreshToken {
  const { accessTokenJti, accessTokenExpireTime, ...rest } = row;
  return {
    ...rest,
    accessToken: accessTokenJti !== null && accessTokenExpireTime !== null ? { jti: accessTokenJti, expireTime: accessTokenExpireTime } : null,
  };
}

function toData(token: StoredRefreshToken) {
  const { accessToken, ...rest } = token;
  return {
    ...rest,
    scopes: [...token.scopes],
    audiences: [...token.audiences],
    accessTokenJti: accessToken?.jti ?? null,
    accessTokenExpireTime: accessToken?.expireTime ?? null,
  };
}

const PURGE_BATCH = 5_000;

export class PrismaRefreshTokenRepository implements RefreshTokenRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async saveRefreshToken(token: StoredRefreshToken): Promise<void> {
    await this.prisma.refreshToken.create({ data: toData(token) });
  }

  async findRefreshToken(hash: string): Promise<StoredRefreshToken | undefined> {
    const row = await this.prisma.refreshToken.findUnique({ where: { hash } });
    return row ? toStored(row) : undefined;
  }

  async exchangeRefreshToken(input: { usedId: string; successor: StoredRefreshToken; now: Date }): Promise<boolean> {
    return this.prisma.$transaction(async (tx) => {
      // The conditional update is the single-use guarantee: of two concurrent redemptions, one
      // finds use_time already set and gets count 0.
      const used = await tx.refreshToken.updateMany({ where: { id: input.usedId, useTime: null }, data: { useTime: input.now } });
      if (used.count !== 1) return false;
      await tx.refreshToken.create({ data: toData(input.successor) });
      return true;
    });
  }

  async revokeRefreshTokenChain(chainId: string, now: Date): Promise<ChainAccessToken[]> {
    // Twice: if a redemption held the current token's row lock, the first statement waited for
    // it to commit but, under read committed, cannot see the successor it inserted; the second
    // statement starts after that commit and ends the successor too.
    for (let pass = 0; pass < 2; pass++) {
      await this.prisma.refreshToken.updateMany({ where: { chainId, useTime: null }, data: { useTime: now } });
    }
    const rows = await this.prisma.refreshToken.findMany({
      where: { chainId, accessTokenJti: { not: null }, accessTokenExpireTime: { gt: now } },
      select: { accessTokenJti: true, accessTokenExpireTime: true },
    });
    return rows.map((row) => ({ jti: row.accessTokenJti!, expireTime: row.accessTokenExpireTime! }));
  }

  async purgeRefreshTokenChains(before: Date): Promise<number> {
    // A chain goes as a whole, once its newest token has expired too: until then its used tokens
    // are what recognises a replayed one as reuse. In batches, so a large backlog never holds
    // one long transaction.
    let purged = 0;
    for (;;) {
      const deleted = await this.prisma.$executeRaw`
        DELETE FROM "refresh_tokens" WHERE "id" IN (
          SELECT token."id" FROM "refresh_tokens" AS token
          WHERE token."expire_time" < ${before}
            AND NOT EXISTS (SELECT 1 FROM "refresh_tokens" AS newer WHERE newer."chain_id" = token."chain_id" AND newer."expire_time" >= ${before})
          LIMIT ${PURGE_BATCH})`;
      purged += deleted;
      if (deleted < PURGE_BATCH) return purged;
    }
  }
}
