/**
 * Refuses a second use of an assertion on every replica (RFC 7523 §3 item 7: the `jti` "MAY be
 * used by the authorization server to ensure that the same JWT is not replayed"). A replay to the
 * same replica is refused from memory at no cost (AssertionReplayCache); a first sighting is then
 * recorded in storage by an insert-if-absent, which fails for a key another replica recorded
 * first. First sightings go together in one statement (a group commit): those that arrive while a
 * write is in flight, or within a short linger of the first, so under load the database sees one
 * round trip per batch, not per assertion. Rows live until the assertion expires and are purged after.
 *
 * Keys are the caller's, namespaced by what the assertion is (`private_key_jwt`, a trusted
 * issuer's single-use tokens, …) so two kinds never collide; they are stored as SHA-256 digests,
 * so a `jti` of any characters (NUL included, which PostgreSQL text cannot hold) stores in a
 * fixed size.
 *
 * If storage cannot be reached, the per-replica verdict stands: tokens are issued from memory
 * during the degraded window, and an assertion refused for that alone would stop every
 * private_key_jwt client with it. A replay to another replica within that outage is the gap.
 */
import { hash } from "node:crypto";
import { TesseraError } from "../../errors.js";
import { Linger } from "../../linger.js";
import type { AssertionReplayCache } from "./assertion-replay-cache.js";

/** Storage of used assertions; implemented in src/store/. */
export interface UsedAssertionRepository {
  /**
   * Records the key until `expireTime` unless it is recorded and not yet expired at `now`, in one
   * statement (two replicas racing: exactly one records it). True when recorded.
   */
  recordIfAbsent(input: { key: string; expireTime: Date; now: Date }): Promise<boolean>;
  /**
   * The same for several distinct keys in one statement; returns the keys it recorded (the
   * others were already recorded and live).
   */
  recordAllIfAbsent(input: { entries: readonly { key: string; expireTime: Date }[]; now: Date }): Promise<ReadonlySet<string>>;
  /** Deletes the records that expired before `now`; returns how many. */
  purgeExpired(now: Date): Promise<number>;
}

export type ReplayVerdict = "fresh" | "replayed" | "full";

export interface AssertionReplayGuardOptions {
  readonly repository: UsedAssertionRepository;
  /** The per-replica memory consulted first. */
  readonly memory: AssertionReplayCache;
  readonly now: () => Date;
  /** False while storage is known to be down (the degraded window): storage is then not asked. */
  readonly storageHealthy?: () => boolean;
  /** Told when storage could not be asked and the per-replica verdict stood. */
  readonly onStorageUnavailable?: (error: unknown) => void;
  /** How long a batch's first sighting waits for others; default REPLAY_RECORD_LINGER_MS, 0 for none. */
  readonly lingerMs?: number | undefined;
}

/** First sightings per statement at most: a statement of bounded size. */
const MAX_BATCH = 256;

/** How long the first sighting of a batch waits for others before its statement is written. */
export const REPLAY_RECORD_LINGER_MS = 3;

interface PendingRecord {
  readonly key: string;
  readonly expireTime: Date;
  resolve(recorded: boolean): void;
  reject(error: unknown): void;
}

export class AssertionReplayGuard {
  private pending: PendingRecord[] = [];
  private writing = false;
  private readonly linger = new Linger(() => void this.write());

  constructor(private readonly options: AssertionReplayGuardOptions) {}

  /**
   * Remembers an assertion until it expires: "fresh" the first time on any replica, "replayed"
   * after. `key` must already be bounded in length by the caller (a verified issuer or client and
   * a jti of bounded length).
   *
   * Storage is what decides across replicas; the memory in front of it answers replays at no
   * cost and stands in for storage while storage is down. So a memory at its bound (which never
   * evicts) is passed by while storage answers: a replica issuing more proofs a minute than the
   * memory holds keeps working, each replay still refused by the insert-if-absent. Only when
   * neither can vouch for a first sighting — memory full and storage down — is the verdict
   * "full" (refuse with temporarily_unavailable).
   */
  async remember(key: string, expiresAt: Date): Promise<ReplayVerdict> {
    const now = this.options.now();
    const local = this.options.memory.remember(key, Math.ceil(expiresAt.getTime() / 1000), Math.floor(now.getTime() / 1000));
    if (local === "replayed") return local;
    const inMemory = local === "fresh";
    if (this.options.storageHealthy && !this.options.storageHealthy()) return inMemory ? "fresh" : "full";
    try {
      const recorded = await this.record(storedKey(key), expiresAt);
      return recorded ? "fresh" : "replayed";
    } catch (error) {
      if (error instanceof TesseraError && error.code === "unavailable") {
        this.options.onStorageUnavailable?.(error);
        return inMemory ? "fresh" : "full";
      }
      throw error;
    }
  }

  /** Queues a first sighting for the next write; starts one when none is in flight or due. */
  private record(key: string, expireTime: Date): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pending.push({ key, expireTime, resolve, reject });
      this.schedule();
    });
  }

  /**
   * Starts the next write now, or once the linger is over: a statement's cost is mostly per
   * statement (on this process's event loop and in PostgreSQL), and without a linger a batch holds
   * only what arrived during the previous write.
   */
  private schedule(): void {
    if (this.writing || this.pending.length === 0) return;
    this.linger.schedule(this.pending.length >= MAX_BATCH, this.options.lingerMs ?? REPLAY_RECORD_LINGER_MS);
  }

  private async write(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    const batch = this.pending.splice(0, MAX_BATCH);
    try {
      if (batch.length === 1) {
        const [only] = batch;
        only!.resolve(await this.options.repository.recordIfAbsent({ key: only!.key, expireTime: only!.expireTime, now: this.options.now() }));
      } else {
        // The memory check lets one replica ask about a key once while it lives (unless the
        // memory is full), so keys in a batch are distinct but for replays; a duplicate is a
        // replay and is answered so.
        const distinct = new Map<string, PendingRecord>();
        const duplicates: PendingRecord[] = [];
        for (const entry of batch) {
          if (distinct.has(entry.key)) duplicates.push(entry);
          else distinct.set(entry.key, entry);
        }
        const recorded = await this.options.repository.recordAllIfAbsent({ entries: [...distinct.values()], now: this.options.now() });
        for (const entry of distinct.values()) entry.resolve(recorded.has(entry.key));
        for (const entry of duplicates) entry.resolve(false);
      }
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    } finally {
      this.writing = false;
    }
    this.schedule();
  }

  /** Drops the records of assertions that have expired (scheduled by the runtime). */
  purge(now: Date): Promise<number> {
    return this.options.repository.purgeExpired(now);
  }
}

/** One-shot hashing: a Hash object per key cost the event loop about three times as much. */
function storedKey(key: string): string {
  return hash("sha256", key, "hex");
}
