/**
 * The resource server's memory of DPoP proofs it accepted (RFC 9449 §11.1), per process: a proof
 * is remembered until its `iat` window ends. Bounded in entries; when full of live entries a new
 * proof is refused rather than an old one forgotten (forgetting would let it be replayed).
 */
export class DpopReplayCache {
  private readonly seen = new Map<string, number>();

  constructor(private readonly maxEntries = 100_000) {}

  /** "fresh" the first time, "replayed" after, "full" when no room is left. */
  remember(key: string, expiresAtSeconds: number, nowSeconds: number): "fresh" | "replayed" | "full" {
    const existing = this.seen.get(key);
    if (existing !== undefined && existing > nowSeconds) return "replayed";
    if (existing === undefined && this.seen.size >= this.maxEntries) {
      for (const [seenKey, expiresAt] of this.seen) if (expiresAt <= nowSeconds) this.seen.delete(seenKey);
      if (this.seen.size >= this.maxEntries) return "full";
    }
    this.seen.set(key, expiresAtSeconds);
    return "fresh";
  }
}
