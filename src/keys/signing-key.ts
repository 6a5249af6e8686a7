/**
 * A signing key as stored, and the storage the key domain needs. The store implements the
 * repository (src/store/); the keys domain owns its shape.
 */
import type { JsonWebKey } from "node:crypto";
import type { AuditEntry } from "../audit/audit-event.js";
import type { SigningAlgorithm } from "./algorithms.js";

/**
 * next: published in /keys, not signing yet (verifiers learn it first); active: signs new
 * tokens, one per algorithm; retired: published until every token it signed has expired;
 * revoked: withdrawn at once after a compromise.
 */
export type SigningKeyState = "next" | "active" | "retired" | "revoked";

export interface StoredSigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly state: SigningKeyState;
  /** Public members only (kty, n/e or crv/x/y); never d, p, q, dp, dq, qi. */
  readonly publicJwk: JsonWebKey;
  /** AES-256-GCM sealed PKCS#8 DER (src/keys/key-encryption.ts). */
  readonly encryptedPrivateKey: Buffer;
  readonly kekId: string;
  readonly createTime: Date;
  readonly activateTime: Date | null;
  readonly retireTime: Date | null;
  /** When the row may be deleted: every token the key signed has expired by then. */
  readonly removeTime: Date | null;
}

/** A state change; timestamps left out keep their stored values. */
export type SigningKeyTransition = Pick<StoredSigningKey, "state"> &
  Partial<Pick<StoredSigningKey, "activateTime" | "retireTime" | "removeTime">>;

/** The changes one key-maintenance pass may make, inside one transaction. */
export interface SigningKeyTransaction {
  listSigningKeys(): Promise<StoredSigningKey[]>;
  insertSigningKey(key: StoredSigningKey): Promise<void>;
  updateSigningKey(kid: string, transition: SigningKeyTransition): Promise<void>;
  deleteSigningKey(kid: string): Promise<void>;
  /** Records an audit entry in the same transaction. */
  audit(entry: AuditEntry): Promise<void>;
}

export interface SigningKeyRepository {
  /** Every key not yet deleted, newest first. */
  listSigningKeys(): Promise<StoredSigningKey[]>;
  /**
   * Runs `work` in one transaction holding the signing-key lock, so exactly one replica changes
   * keys at a time. With `wait: false` it returns undefined at once if another replica holds it.
   */
  withSigningKeyLock<T>(options: { wait: boolean }, work: (tx: SigningKeyTransaction) => Promise<T>): Promise<T | undefined>;
  /** Replaces the sealed private keys (KEK rotation). */
  resealSigningKeys(updates: readonly { kid: string; encryptedPrivateKey: Buffer; kekId: string }[]): Promise<void>;
}
