/**
 * The signing keys in memory. Keys are decrypted and imported into KeyObjects once, at load,
 * so neither signing nor verification touches the database or the KEK per request. The JWKS
 * document is rendered once per change, not per GET.
 */
import { createHash, createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from "node:crypto";
import type { Logger } from "../log/logger.js";
import type { SigningAlgorithm } from "./algorithms.js";
import { KekError, type KeyEncryptionKeys } from "./key-encryption.js";
import type { SigningKeyRepository, SigningKeyState, StoredSigningKey } from "./signing-key.js";

export interface LoadedSigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly state: SigningKeyState;
  readonly publicKey: KeyObject;
  readonly publicJwk: JsonWebKey;
  /** Present for keys that may sign (active, next). */
  readonly privateKey: KeyObject | undefined;
  readonly stored: StoredSigningKey;
}

export interface JwksDocument {
  /** The serialized JWK Set, ready to send. */
  readonly body: string;
  /** A strong validator of `body` (RFC 9110 §8.8.3). */
  readonly etag: string;
}

export class KeyRing {
  private byKid = new Map<string, LoadedSigningKey>();
  private activeByAlg = new Map<SigningAlgorithm, LoadedSigningKey>();
  private jwksDocument: JwksDocument = renderJwks([]);

  constructor(
    private readonly options: {
      repository: SigningKeyRepository;
      keks: KeyEncryptionKeys;
      log: Logger;
    },
  ) {}

  /** (Re)loads every key from storage; re-seals keys still under the previous KEK. */
  async load(): Promise<void> {
    const stored = await this.options.repository.listSigningKeys();
    const { keks } = this.options;
    const reseal: { kid: string; encryptedPrivateKey: Buffer; kekId: string }[] = [];
    const byKid = new Map<string, LoadedSigningKey>();
    const activeByAlg = new Map<SigningAlgorithm, LoadedSigningKey>();
    for (const key of stored) {
      if (key.state === "revoked") continue;
      // Reloads run every few seconds: keep what is already imported unless it changed.
      const known = this.byKid.get(key.kid);
      if (known && known.state === key.state && known.stored.kekId === key.kekId && known.stored.removeTime?.getTime() === key.removeTime?.getTime()) {
        byKid.set(key.kid, known);
        if (key.state === "active" && !activeByAlg.has(key.alg)) activeByAlg.set(key.alg, known);
        continue;
      }
      let privateKey: KeyObject | undefined;
      if (key.state === "active" || key.state === "next") {
        const kek =
          key.kekId === keks.current.id ? keks.current : key.kekId === keks.previous?.id ? keks.previous : undefined;
        if (!kek) {
          throw new KekError(
            `signing key ${key.kid} was encrypted with key-encryption key ${key.kekId}, but the configured TESSERA_KEK is ${keks.current.id}: wrong TESSERA_KEK (during KEK rotation, pass the old one as TESSERA_KEK_PREVIOUS)`,
          );
        }
        let der: Buffer;
        try {
          der = kek.open(key.encryptedPrivateKey, key.kid);
        } catch {
          throw new KekError(`signing key ${key.kid} cannot be decrypted with key-encryption key ${kek.id}: wrong KEK or corrupted key`);
        }
        privateKey = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
        if (kek !== keks.current) {
          reseal.push({ kid: key.kid, encryptedPrivateKey: keks.current.seal(der, key.kid), kekId: keks.current.id });
        }
      }
      const loaded: LoadedSigningKey = {
        kid: key.kid,
        alg: key.alg,
        state: key.state,
        publicKey: createPublicKey({ key: key.publicJwk, format: "jwk" }),
        publicJwk: key.publicJwk,
        privateKey,
        stored: key,
      };
      byKid.set(key.kid, loaded);
      if (key.state === "active" && !activeByAlg.has(key.alg)) activeByAlg.set(key.alg, loaded);
    }
    if (reseal.length > 0) {
      await this.options.repository.resealSigningKeys(reseal);
      this.options.log.info({ keys: reseal.length, kek: keks.current.id }, "re-encrypted signing keys under the current KEK");
    }
    const changed = byKid.size !== this.byKid.size || [...byKid.values()].some((key) => this.byKid.get(key.kid) !== key);
    this.byKid = byKid;
    this.activeByAlg = activeByAlg;
    if (changed) this.jwksDocument = renderJwks([...byKid.values()]);
  }

  /** The key that signs new tokens of an algorithm, if any. */
  activeKey(alg: SigningAlgorithm): LoadedSigningKey | undefined {
    return this.activeByAlg.get(alg);
  }

  /** A published key by kid, for verification (active, next or retired). */
  publishedKey(kid: string): LoadedSigningKey | undefined {
    return this.byKid.get(kid);
  }

  keys(): LoadedSigningKey[] {
    return [...this.byKid.values()];
  }

  jwks(): JwksDocument {
    return this.jwksDocument;
  }
}

function renderJwks(keys: readonly LoadedSigningKey[]): JwksDocument {
  const body = JSON.stringify({
    keys: keys.map((key) => ({ ...key.publicJwk, kid: key.kid, use: "sig", alg: key.alg })),
  });
  return { body, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` };
}
