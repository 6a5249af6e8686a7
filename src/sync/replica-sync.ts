/**
 * Keeps this replica's in-memory state — clients, revocations, signing keys — in step with
 * changes committed by any replica, so the hot path can read memory only. Target: a change on one
 * replica is honoured by every other within a second (LISTEN/NOTIFY). After a reconnect, and on a
 * slow safety timer, a resync repairs whatever announcement was missed: it lists every client's
 * version (id, revision, update time) and re-reads only the clients that differ from memory,
 * drops the ones deleted, and reloads the revocations, signing keys and the federation directory
 * (small tables).
 */
import type { ClientRegistry } from "../clients/client-registry.js";
import type { FederationRegistry } from "../federation/federation-registry.js";
import type { KeyRing } from "../keys/key-ring.js";
import type { Logger } from "../log/logger.js";
import type { RevocationList } from "../oauth/revocation-list.js";
import type { Change, ChangeSource } from "./change.js";

export class ReplicaSync {
  private stopListening: (() => Promise<void>) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private resyncing: Promise<void> | undefined;
  /** When the last resync finished, for metrics and readiness. */
  lastResync: Date | undefined;

  constructor(
    private readonly options: {
      source: ChangeSource;
      registry: ClientRegistry;
      federation: Pick<FederationRegistry, "load">;
      revocations: RevocationList;
      keyRing: KeyRing;
      now: () => Date;
      resyncIntervalMs: number;
      log: Logger;
    },
  ) {}

  async start(): Promise<void> {
    this.stopListening = await this.options.source.subscribe({
      onChange: (change) => this.apply(change),
      onResync: () => void this.resync(),
    });
    this.timer = setInterval(() => void this.resync(), this.options.resyncIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.stopListening?.();
    await this.resyncing;
  }

  private apply(change: Change): void {
    const { registry, revocations, keyRing, log } = this.options;
    const work =
      change.kind === "client"
        ? registry.refresh(change.clientId)
        : change.kind === "revocation"
          ? Promise.resolve(revocations.remember({ jti: change.jti, clientId: change.clientId, expireTime: new Date(change.expireTime) }))
          : change.kind === "federation"
            ? this.options.federation.load()
            : keyRing.load();
    work.catch((error: unknown) => {
      log.warn({ err: error, change: change.kind }, "could not apply a change from another replica; resyncing");
      void this.resync();
    });
  }

  /** Compares clients by version and reloads revocations, keys and federation; concurrent calls share one pass. */
  resync(): Promise<void> {
    const { registry, revocations, keyRing, now, log } = this.options;
    this.resyncing ??= Promise.all([registry.resync(), revocations.load(now()), keyRing.load(), this.options.federation.load()])
      .then(() => {
        this.lastResync = now();
      })
      .catch((error: unknown) => log.warn({ err: error }, "resync failed; retrying on the next pass"))
      .finally(() => (this.resyncing = undefined));
    return this.resyncing;
  }
}
