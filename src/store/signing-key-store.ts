/**
 * SigningKeyRepository on Prisma. Creating the first active key of an algorithm takes a
 * transaction-scoped advisory lock, so replicas starting together create exactly one.
 */
import type { JsonWebKey } from "node:crypto";
import { isSigningAlgorithm } from "../keys/algorithms.js";
import type { SigningKeyRepository, SigningKeyState, StoredSigningKey } from "../keys/signing-key.js";
import type { Prisma, PrismaClient } from "./generated/client.js";
import type { SigningKeyModel as SigningKeyRow } from "./generated/models.js";

/** Advisory lock key for signing key changes ("tessera keys" as a number). */
const SIGNING_KEY_LOCK = 0x7465_7373_6b65_79n;

const STATES: readonly SigningKeyState[] = ["next", "active", "retired", "revoked"];

export class PrismaSigningKeyRepository implements SigningKeyRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async listSigningKeys(): Promise<StoredSigningKey[]> {
    const rows = await this.prisma.signingKey.findMany({ orderBy: [{ createTime: "desc" }, { kid: "asc" }] });
    return rows.flatMap((row) => {
      const key = toStoredKey(row);
      return key ? [key] : [];
    });
  }

  async insertFirstActiveKey(key: StoredSigningKey): Promise<boolean> {
    return this.prisma.$transaction(async (tx) => {
      await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`);
      const active = await tx.signingKey.count({ where: { alg: key.alg, state: "active" } });
      if (active > 0) return false;
      await tx.signingKey.create({
        data: {
          kid: key.kid,
          alg: key.alg,
          state: key.state,
          publicJwk: key.publicJwk as Prisma.InputJsonObject,
          encryptedPrivateKey: new Uint8Array(key.encryptedPrivateKey),
          kekId: key.kekId,
          createTime: key.createTime,
          activateTime: key.activateTime,
          retireTime: key.retireTime,
          removeTime: key.removeTime,
        },
      });
      return true;
    });
  }

  async resealSigningKeys(updates: readonly { kid: string; encryptedPrivateKey: Buffer; kekId: string }[]): Promise<void> {
    await this.prisma.$transaction(
      updates.map((update) =>
        this.prisma.signingKey.update({
          where: { kid: update.kid },
          data: { encryptedPrivateKey: new Uint8Array(update.encryptedPrivateKey), kekId: update.kekId },
        }),
      ),
    );
  }
}

function toStoredKey(row: SigningKeyRow): StoredSigningKey | undefined {
  const state = STATES.find((value) => value === row.state);
  if (!state || !isSigningAlgorithm(row.alg)) return undefined;
  return {
    kid: row.kid,
    alg: row.alg,
    state,
    publicJwk: row.publicJwk as JsonWebKey,
    encryptedPrivateKey: Buffer.from(row.encryptedPrivateKey),
    kekId: row.kekId,
    createTime: row.createTime,
    activateTime: row.activateTime,
    retireTime: row.retireTime,
    removeTime: row.removeTime,
  };
}
