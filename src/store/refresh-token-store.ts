/**
 * RefreshTokenRepository on Prisma.
 */
import type { RefreshTokenRepository, StoredRefreshToken } from "../oauth/refresh-tokens.js";
import type { PrismaClient } from "./generated/client.js";
import type { RefreshTokenModel as RefreshTokenRow } from "./generated/models.js";

function toStored(row: RefreshTokenRow): StoredRefreshToken {
  return { ...row, scopes: row.scopes, audiences: row.audiences };
}

function toData(token: StoredRefreshToken) {
  return { ...token, scopes: [...token.scopes], audiences: [...token.audiences] };
}

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

  async revokeRefreshTokenChain(chainId: string, now: Date): Promise<void> {
    await this.prisma.refreshToken.updateMany({ where: { chainId, useTime: null }, data: { useTime: now } });
  }
}
