/**
 * Runs the signing-key lifecycle: scheduled maintenance (one replica at a time, under the
 * signing-key lock), on-demand rotation and emergency revocation, and keeping this replica's
 * in-memory KeyRing in step with storage.
 */
import type { Actor } from "../audit/audit-event.js";
import { TesseraError } from "../errors.js";
import type { Logger } from "../log/logger.js";
import type { SigningAlgorithm } from "./algorithms.js";
import type { KeyEncryptionKeys } from "./key-encryption.js";
import { generateSigningKeyPair } from "./key-generation.js";
import { planKeyMaintenance, type KeyAction, type KeyPolicy } from "./key-lifecycle.js";
import type { KeyRing } from "./key-ring.js";
import type { SigningKeyRepository, SigningKeyTransaction, StoredSigningKey } from "./signing-key.js";

export class KeyManager {
  constructor(
    private readonly options: {
      repository: SigningKeyRepository;
      keyRing: KeyRing;
      keks: KeyEncryptionKeys;
      algorithms: readonly SigningAlgorithm[];
      policy: KeyPolicy;
      rsaModulusLength: number;
      log: Logger;
    },
  ) {}

  /** First start: wait for the lock, so every algorithm has an active key before serving. */
  async bootstrap(now: Date): Promise<void> {
    await this.options.repository.withSigningKeyLock({ wait: true }, (tx) => this.applyPlan(tx, now));
    await this.options.keyRing.load();
  }

  /**
   * The periodic pass: if this replica wins the lock, move keys along their lifecycle; in any
   * case reload, so keys changed by other replicas are published and used here within one pass.
   */
  async maintain(now: Date): Promise<void> {
    await this.options.repository.withSigningKeyLock({ wait: false }, (tx) => this.applyPlan(tx, now));
    await this.options.keyRing.load();
  }

  /** Starts a rotation now: the new key is published at once and signs after the publication lead. */
  async rotate(alg: SigningAlgorithm, now: Date, actor: Actor): Promise<StoredSigningKey> {
    const created = await this.options.repository.withSigningKeyLock({ wait: true }, async (tx) => {
      const keys = await tx.listSigningKeys();
      if (keys.some((key) => key.alg === alg && key.state === "next")) {
        throw new TesseraError("failed_precondition", `a new ${alg} key is already waiting to become active`);
      }
      const key = await this.createKey(tx, alg, "next", now);
      await tx.audit({ actor: actor.clientId, action: "key.rotate", outcome: "success", requestId: actor.requestId, details: { kid: key.kid, alg } });
      return key;
    });
    await this.options.keyRing.load();
    return created!;
  }

  /**
   * Emergency revocation: the key leaves /keys at once and its tokens stop verifying. If it was
   * signing, a successor signs immediately (the waiting key if there is one) — verifiers refetch
   * /keys on the unknown kid.
   */
  async revoke(kid: string, now: Date, actor: Actor): Promise<StoredSigningKey> {
    const revoked = await this.options.repository.withSigningKeyLock({ wait: true }, async (tx) => {
      const key = (await tx.listSigningKeys()).find((candidate) => candidate.kid === kid);
      if (!key) throw new TesseraError("not_found", `signing key ${kid} not found`);
      if (key.state === "revoked") throw new TesseraError("failed_precondition", `signing key ${kid} is already revoked`);
      const transition = {
        state: "revoked" as const,
        retireTime: now,
        removeTime: new Date(now.getTime() + this.options.policy.retentionSeconds * 1000),
      };
      await tx.updateSigningKey(kid, transition);
      await tx.audit({ actor: actor.clientId, action: "key.revoke", outcome: "success", requestId: actor.requestId, details: { kid, alg: key.alg } });
      await this.applyPlan(tx, now);
      return { ...key, ...transition };
    });
    await this.options.keyRing.load();
    this.options.log.warn({ kid }, "signing key revoked");
    return revoked!;
  }

  private async applyPlan(tx: SigningKeyTransaction, now: Date): Promise<void> {
    const actions = planKeyMaintenance({
      keys: await tx.listSigningKeys(),
      algorithms: this.options.algorithms,
      now,
      policy: this.options.policy,
    });
    for (const action of actions) await this.apply(tx, action, now);
  }

  private async apply(tx: SigningKeyTransaction, action: KeyAction, now: Date): Promise<void> {
    const { log, policy } = this.options;
    switch (action.kind) {
      case "create": {
        const key = await this.createKey(tx, action.alg, action.state, now);
        log.info({ kid: key.kid, alg: action.alg, state: action.state }, "created signing key");
        return;
      }
      case "activate":
        await tx.updateSigningKey(action.kid, { state: "active", activateTime: now, retireTime: null, removeTime: null });
        if (action.retireKid) {
          await tx.updateSigningKey(action.retireKid, {
            state: "retired",
            retireTime: now,
            removeTime: new Date(now.getTime() + policy.retentionSeconds * 1000),
          });
        }
        log.info({ kid: action.kid, retired: action.retireKid }, "signing key activated");
        return;
      case "delete":
        await tx.deleteSigningKey(action.kid);
        log.info({ kid: action.kid }, "signing key removed");
        return;
    }
  }

  private async createKey(tx: SigningKeyTransaction, alg: SigningAlgorithm, state: "next" | "active", now: Date): Promise<StoredSigningKey> {
    const pair = await generateSigningKeyPair(alg, { rsaModulusLength: this.options.rsaModulusLength });
    const der = pair.privateKey.export({ format: "der", type: "pkcs8" });
    const key: StoredSigningKey = {
      kid: pair.kid,
      alg,
      state,
      publicJwk: pair.publicJwk,
      encryptedPrivateKey: this.options.keks.current.seal(der, pair.kid),
      kekId: this.options.keks.current.id,
      createTime: now,
      activateTime: state === "active" ? now : null,
      retireTime: null,
      removeTime: null,
    };
    await tx.insertSigningKey(key);
    return key;
  }
}
