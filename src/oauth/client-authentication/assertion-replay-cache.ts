/**
 * Remembers the `jti` of every client assertion until it expires, so an intercepted
 * assertion cannot be replayed (RFC 7523 §3 item 7). Bounded: assertions may live at most
 * MAX_ASSERTION_LIFETIME_SECONDS, and past `maxEntries` live entries or `maxBytes` of them new
 * assertions are refused rather than letting memory grow (forgetting one early would let it be
 * replayed). Keys are a verified client id and a jti of bounded length (private-key-jwt.ts).
 * Per replica: a replay against another replica within the assertion's (short) lifetime is not
 * caught here.
 */
import { entryBytes } from "../recent-map.js";

export class AssertionReplayCache {
  private readonly seen = new Map<string, number>();
  private bytes = 0;
  /**
   * The earliest expiry among the entries (or earlier): until then nothing can be purged, so a
   * full cache refuses without scanning every entry on every call.
   */
  private earliestExpiry = Number.POSITIVE_INFINITY;
  private readonly maxEntries: number;
  private readonly maxBytes: number;

  constructor(limits: { maxEntries?: number; maxBytes?: number } = {}) {
    this.maxEntries = limits.maxEntries ?? 100_000;
    this.maxBytes = limits.maxBytes ?? 32 * 1024 * 1024;
  }

  /** Records the assertion; false if it was seen before (a replay) or the cache is full. */
  remember(key: string, expiresAtSeconds: number, nowSeconds: number): "fresh" | "replayed" | "full" {
    const existing = this.seen.get(key);
    if (existing !== undefined && existing > nowSeconds) return "replayed";
    const cost = existing === undefined ? entryBytes(key) : 0;
    if (this.isFull(cost)) this.purge(nowSeconds);
    if (this.isFull(cost)) return "full";
    this.seen.set(key, expiresAtSeconds);
    if (expiresAtSeconds < this.earliestExpiry) this.earliestExpiry = expiresAtSeconds;
    this.bytes += cost;
    return "fresh";
  }

  private isFull(cost: number): boolean {
    return (cost > 0 && this.seen.size >= this.maxEntries) || this.bytes + cost > this.maxBytes;
  }

  private purge(nowSeconds: number): void {
    if (nowSeconds < this.earliestExpiry) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const [key, expiresAt] of this.seen) {
      if (expiresAt <= nowSeconds) {
        this.seen.delete(key);
        this.bytes -= entryBytes(key);
      } else if (expiresAt < earliest) {
        earliest = expiresAt;
      }
    }
    this.earliestExpiry = earliest;
  }

  get size(): number {
    return this.seen.size;
  }
}
