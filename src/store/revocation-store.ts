/**
 * RevocationRepository on Prisma.
 */
import type { Revocation, RevocationRepository } from "../oauth/revocation-list.js";
import { announceChange } from "./change-feed.js";
import type { PrismaClient } from "./generated/client.js";

export class PrismaRevocationRepository implements RevocationRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async saveRevocation(revocation: Revocation): Promise<void> {
    await this.prisma.$transaction(async (tx) => {
      await tx.revokedToken.upsert({
        where: { jti: revocation.jti },
        create: { jti: revocation.jti, clientId: revocation.clientId, expireTime: revocation.expireTime },
        update: {},
      });
      await announceChange(tx, {
        kind: "revocation",
        jti: revocation.jti,
        clientId: revocation.clientId,
        expireTime: revocation.expireTime.getTime(),
      });
    });
  }

  async listRevocations(now: Date): Promise<Revocation[]> {
    const rows = await this.prisma.revokedToken.findMany({ where: { expireTime: { gt: now } } });
    return rows.map((row) => ({ jti: row.jti, clientId: row.clientId, expireTime: row.expireTime }));
  }

  async purgeRevocations(now: Date): Promise<number> {
    return (await this.prisma.revokedToken.deleteMany({ where: { expireTime: { lte: now } } })).count;
  }
}
