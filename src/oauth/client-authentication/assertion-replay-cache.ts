/**
 * Remembers the `jti` of every client assertion until it expires, so an intercepted
 * assertion cannot be replayed (RFC 7523 §3 item 7). Bounded: assertions may live at most
 * MAX_ASSERTION_LIFETIME_SECONDS, and past `maxEntries` live entries new assertions are refused
 * rather than letting memory grow. Per replica: a replay against another replica within the
 * assertion's (short) lifetime is not caught here.
 */

export class AssertionReplayCache {
  private readonly seen = new Map<string, number>();

  constructor(private readonly maxEntries = 100_000) {}

  /** Records the assertion; false if it was seen before (a replay) or the cache is full. */
  remember(key: string, expiresAtSeconds: number, nowSeconds: number): "fresh" | "replayed" | "full" {
    const existing = this.seen.get(key);
    if (existing !== undefined && existing > nowSeconds) return "replayed";
    if (this.seen.size >= this.maxEntries) this.purge(nowSeconds);
    if (this.seen.size >= this.maxEntries) return "full";
    this.seen.set(key, expiresAtSeconds);
    return "fresh";
  }

  private purge(nowSeconds: number): void {
    for (const [key, expiresAt] of this.seen) if (expiresAt <= nowSeconds) this.seen.delete(key);
  }

  get size(): number {
    return this.seen.size;
  }
}
