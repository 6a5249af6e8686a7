/**
 * Encryption of signing keys at rest: AES-256-GCM under a key-encryption key (KEK) that never
 * touches the database. Each sealed key is bound to its kid as additional authenticated data,
 * so ciphertexts cannot be swapped between rows.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { checkPrivateFile, ensurePrivateDataDirectory } from "../data-directory.js";
import type { Logger } from "../log/logger.js";

const IV_BYTES = 12;
const TAG_BYTES = 16;

export class KeyEncryptionKey {
  /** A fingerprint stored beside each sealed key, to tell a wrong KEK from corrupt data. */
  readonly id: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error("a key-encryption key is 32 bytes");
    this.id = createHash("sha256").update("tessera-kek-id\0").update(key).digest("base64url").slice(0, 16);
  }

  /**
   * A key for another purpose that every replica derives alike (RFC 5869 HKDF-SHA256, the purpose
   * as info), e.g. the DPoP nonces' HMAC key: nothing more to configure or store, and the KEK
   * itself is never used twice.
   */
  derive(purpose: string): Buffer {
    return Buffer.from(hkdfSync("sha256", this.key, "tessera", purpose, 32));
  }

  seal(plaintext: Buffer, associatedData: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    cipher.setAAD(Buffer.from(associatedData, "utf8"));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]);
  }

  /** Throws when the KEK is wrong or the data was altered (GCM authentication fails). */
  open(sealed: Buffer, associatedData: string): Buffer {
    if (sealed.length < IV_BYTES + TAG_BYTES) throw new Error("sealed key is truncated");
    const iv = sealed.subarray(0, IV_BYTES);
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    const decipher = createDecipheriv("aes-256-gcm", this.key, iv);
    decipher.setAAD(Buffer.from(associatedData, "utf8"));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
  }
}

export interface KeyEncryptionKeys {
  readonly current: KeyEncryptionKey;
  /** During KEK rotation: the KEK that sealed keys before; they are re-sealed under `current`. */
  readonly previous: KeyEncryptionKey | undefined;
}

export class KekError extends Error {
  override readonly name = "KekError";
}

const KEK_FILE_NAME = "tessera.kek";

/**
 * The KEK comes from TESSERA_KEK / TESSERA_KEK_FILE. On the embedded database with neither set,
 * a KEK file is created in the data directory (mode 0600) so a laptop needs no setup; on
 * PostgreSQL that would put the KEK beside nothing an operator backs up, so we refuse instead.
 */
export function resolveKeyEncryptionKeys(options: {
  kek: Buffer | undefined;
  kekPrevious: Buffer | undefined;
  embedded: boolean;
  dataDir: string;
  log: Logger;
}): KeyEncryptionKeys {
  const previous = options.kekPrevious ? new KeyEncryptionKey(options.kekPrevious) : undefined;
  if (options.kek) return { current: new KeyEncryptionKey(options.kek), previous };
  if (!options.embedded) {
    throw new KekError(
      "TESSERA_KEK or TESSERA_KEK_FILE is required with DATABASE_URL: signing keys are encrypted at rest (generate one with `openssl rand -base64 32`)",
    );
  }
  const file = path.join(options.dataDir, KEK_FILE_NAME);
  ensurePrivateDataDirectory(options.dataDir);
  let raw: string;
  try {
    checkPrivateFile(file);
    raw = readFileSync(file, "utf8").trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    raw = randomBytes(32).toString("base64");
    // "wx": never overwrite a KEK another process just wrote.
    writeFileSync(file, `${raw}\n`, { mode: 0o600, flag: "wx" });
    options.log.warn(
      { file },
      "no TESSERA_KEK set: generated a key-encryption key in the data directory; set TESSERA_KEK or TESSERA_KEK_FILE in production and back it up",
    );
  }
  const key = Buffer.from(raw, "base64");
  if (key.length !== 32) throw new KekError(`${file} does not hold a 32-byte base64 key`);
  return { current: new KeyEncryptionKey(key), previous };
}
