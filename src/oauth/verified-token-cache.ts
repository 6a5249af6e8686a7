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
 * successes are cached, and an entry is served only for the whole token it was verified as
 * (signature included), so a forgery can never hit. The cache is bounded in entries and in the
 * bytes of the tokens it holds (a client's claims template makes its tokens as long as it
 * likes); the oldest entry goes first.
 *
 * The map is keyed by the token's last characters, which lie in its signature: V8 hashes a
 * string key over its full length, so hashing each request's fresh token would cost every
 * introspection far more than comparing it with the entry's token does.
 */
export interface VerifiedToken<Facts, Key> {
  /** The whole token, as it was verified. */
  readonly token: string;
  readonly facts: Facts;
  readonly kid: string;
  readonly key: Key;
  /** Seconds since the epoch; an entry past it is dropped rather than served. */
  readonly expiresAt: number;
}

/** Enough for every token in use at a busy resource-server fleet's working set; ~1.5 KiB each. */
export const VERIFIED_TOKEN_CACHE_SIZE = 4096;
/** Bytes of token text held at most (two a character), whatever the tokens' lengths. */
export const VERIFIED_TOKEN_CACHE_BYTES = 16 * 1024 * 1024;

/**
 * Characters of the token's end that key the map: 192 bits of the signature, so genuine tokens
 * never share one. A string that copies a cached token's end misses (it is not that token) and
 * leaves the entry in place.
 */
const KEY_CHARACTERS = 32;

function keyOf(token: string): string {
  return token.length <= KEY_CHARACTERS ? token : token.slice(-KEY_CHARACTERS);
}

export class VerifiedTokenCache<Facts, Key> {
  private readonly entries = new Map<string, VerifiedToken<Facts, Key>>();
  private bytes = 0;

  constructor(
    private readonly maxEntries = VERIFIED_TOKEN_CACHE_SIZE,
    private readonly maxBytes = VERIFIED_TOKEN_CACHE_BYTES,
  ) {}

  /** Bytes of token text held. */
  get byteSize(): number {
    return this.bytes;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The cached facts, if the token was verified with the key `currentKey(kid)` still is and has not expired. */
  get(token: string, currentKey: (kid: string) => Key | undefined, nowSeconds: number): Facts | undefined {
    const key = keyOf(token);
    const entry = this.entries.get(key);
    if (!entry || entry.token !== token) return undefined;
    if (entry.expiresAt <= nowSeconds || currentKey(entry.kid) !== entry.key) {
      this.remove(key);
      return undefined;
    }
    return entry.facts;
  }

  set(entry: VerifiedToken<Facts, Key>): void {
    const cost = 2 * entry.token.length;
    if (cost > this.maxBytes) return;
    const key = keyOf(entry.token);
    this.remove(key);
    this.entries.set(key, entry);
    this.bytes += cost;
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) this.remove(this.entries.keys().next().value!);
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.bytes -= 2 * entry.token.length;
  }
}
