/**
 * A signing key as stored, and the storage the key ring needs. The store implements the
 * repository (src/store/); the keys domain owns its shape.
 */
import type { JsonWebKey } from "node:crypto";
import type { SigningAlgorithm } from "./algorithms.js";

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
  readonly removeTime: Date | null;
}

export interface SigningKeyRepository {
  /** Every key not yet removed, newest first. */
  listSigningKeys(): Promise<StoredSigningKey[]>;
  /**
   * Stores `key` as the active key of its algorithm unless one is already active. Serialized
   * across replicas, so concurrent start-ups create exactly one key. Returns whether it did.
   */
  insertFirstActiveKey(key: StoredSigningKey): Promise<boolean>;
  /** Replaces the sealed private keys (KEK rotation). */
  resealSigningKeys(updates: readonly { kid: string; encryptedPrivateKey: Buffer; kekId: string }[]): Promise<void>;
}
