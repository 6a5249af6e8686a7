/**
 * Tokens whose signature and claims were checked recently, by their exact text: a resource
 * server presents the same access token on every call for its whole lifetime (an hour by
 * default), so introspection and AuthenticateToken mostly see tokens they have already
 * verified. A hit skips decoding, the claim checks and the signature check (the thread-pool
 * hand-over included); what can change while a token lives — revocation, the client's status,
 * expiry — is still checked on every call by the verifier, outside this cache. Envoy's
 * jwt_authn caches verified JWTs the same way.
 *
 * An entry holds the signing key it was verified with and is only served while the key ring
 * still publishes that very key, so a revoked or retired key stops its tokens at once. Only
 * successes are cached, keyed by the whole token (signature included), so a forgery can never
 * hit. The cache is bounded; the oldest entry goes first.
 */
export interface VerifiedToken<Facts, Key> {
  readonly facts: Facts;
  readonly kid: string;
  readonly key: Key;
  /** Seconds since the epoch; an entry past it is dropped rather than served. */
  readonly expiresAt: number;
}

/** Enough for every token in use at a busy resource-server fleet's working set; ~1.5 KiB each. */
export const VERIFIED_TOKEN_CACHE_SIZE = 4096;

export class VerifiedTokenCache<Facts, Key> {
  private readonly entries = new Map<string, VerifiedToken<Facts, Key>>();

  constructor(private readonly maxEntries = VERIFIED_TOKEN_CACHE_SIZE) {}

  get size(): number {
    return this.entries.size;
  }

  /** The cached facts, if the token was verified with the key `currentKey(kid)` still is and has not expired. */
  get(token: string, currentKey: (kid: string) => Key | undefined, nowSeconds: number): Facts | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (entry.expiresAt <= nowSeconds || currentKey(entry.kid) !== entry.key) {
      this.entries.delete(token);
      return undefined;
    }
    return entry.facts;
  }

  set(token: string, entry: VerifiedToken<Facts, Key>): void {
    if (this.entries.size >= this.maxEntries && !this.entries.has(token)) {
      this.entries.delete(this.entries.keys().next().value!);
    }
    this.entries.set(token, entry);
  }
}
