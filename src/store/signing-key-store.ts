/**
 * SigningKeyRepository on Prisma. Every change to keys happens in a transaction holding one
 * advisory lock, so replicas starting or rotating together make exactly one change.
 */
import type { JsonWebKey } from "node:crypto";
import { isSigningAlgorithm } from "../keys/algorithms.js";
import type { SigningKeyRepository, SigningKeyState, SigningKeyTransaction, StoredSigningKey } from "../keys/signing-key.js";
import { auditEventData } from "./audit-store.js";
import { announceChange } from "./change-feed.js";
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

  async withSigningKeyLock<T>(options: { wait: boolean }, work: (tx: SigningKeyTransaction) => Promise<T>): Promise<T | undefined> {
    return this.prisma.$transaction(
      async (tx) => {
        if (options.wait) {
          await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`);
        } else {
          const [row] = await tx.$queryRawUnsafe<{ locked: boolean }[]>(`SELECT pg_try_advisory_xact_lock(${SIGNING_KEY_LOCK}) AS locked`);
          if (!row?.locked) return undefined;
        }
        const changes = { made: false };
        const result = await work(keyTransaction(tx, changes));
        if (changes.made) await announceChange(tx, { kind: "keys" });
        return result;
      },
      // Key generation (RSA) runs inside the transaction; give it room.
      { timeout: 60_000, maxWait: 30_000 },
    );
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

function keyTransaction(tx: Prisma.TransactionClient, changes: { made: boolean }): SigningKeyTransaction {
  return {
    async listSigningKeys() {
      const rows = await tx.signingKey.findMany({ orderBy: [{ createTime: "desc" }, { kid: "asc" }] });
      return rows.flatMap((row) => toStoredKey(row) ?? []);
    },
    async insertSigningKey(key) {
      changes.made = true;
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
    },
    async updateSigningKey(kid, transition) {
      changes.made = true;
      await tx.signingKey.update({ where: { kid }, data: transition });
    },
    async deleteSigningKey(kid) {
      changes.made = true;
      await tx.signingKey.delete({ where: { kid } });
    },
    async audit(entry) {
      await tx.auditEvent.create({ data: auditEventData(entry) });
    },
  };
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
