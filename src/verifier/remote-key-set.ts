/**
 * Tessera's public keys, fetched from its JWKS endpoint (`GET /keys`) and kept as long as the
 * response's Cache-Control allows (RFC 9111 §5.2.2.1 max-age, bounded both ways), revalidated
 * with If-None-Match. Tessera publishes a new key two cache periods before it signs with it, so a
 * verifier that honours max-age should never meet an unknown `kid`; when one does (a key withdrawn
 * and replaced at once, or a forged header) it refetches — at most once per cooldown, so a flood
 * of tokens with made-up kids cannot make it hammer the endpoint. Concurrent fetches are shared.
 */
import { importJWK, type JWK } from "jose";
import { VerifierError } from "./verifier-error.js";

export interface RemoteKeySetOptions {
  /** The JWKS URL, e.g. `https://tessera.internal/keys`. */
  readonly url: string | URL;
  /** Replaces the global fetch (a proxy agent, a test counter). */
  readonly fetch?: typeof globalThis.fetch;
  /** A fetched JWKS is kept at least this long, even when the server says less. Default 30. */
  readonly minCacheSeconds?: number;
  /** …and at most this long, even when the server says more. Default 3600. */
  readonly maxCacheSeconds?: number;
  /** How long a JWKS without max-age is kept. Default 300 (Tessera's own default). */
  readonly defaultCacheSeconds?: number;
  /** Least time between a fetch and a refetch caused by an unknown kid. Default 30. */
  readonly cooldownSeconds?: number;
  /** Per request. Default 5000. */
  readonly timeoutMs?: number;
  /** The clock, in milliseconds; for tests. */
  readonly now?: () => number;
}

/** The parts of a JWS header that select a key (RFC 7515 §4.1.1, §4.1.4). */
export interface KeySelector {
  readonly kid?: string | undefined;
  readonly alg: string;
}

export type VerificationKey = Awaited<ReturnType<typeof importJWK>>;

interface ImportedKey {
  /** The JWK as fetched, to notice a kid whose key material changed. */
  readonly source: string;
  readonly key: Promise<VerificationKey>;
}

/** The key type (and curve) each accepted algorithm needs (RFC 7518 §3, RFC 8037 §3.1). */
const KEY_TYPE_OF_ALGORITHM: Readonly<Record<string, { kty: string; crv?: string }>> = {
  RS256: { kty: "RSA" },
  PS256: { kty: "RSA" },
  ES256: { kty: "EC", crv: "P-256" },
  EdDSA: { kty: "OKP", crv: "Ed25519" },
};

export class RemoteKeySet {
  readonly #url: URL;
  readonly #fetch: typeof globalThis.fetch;
  readonly #now: () => number;
  readonly #minCacheMs: number;
  readonly #maxCacheMs: number;
  readonly #defaultCacheMs: number;
  readonly #cooldownMs: number;
  readonly #timeoutMs: number;

  #keys: readonly JWK[] | undefined;
  #etag: string | undefined;
  /** When the last fetch started, whatever its outcome. */
  #fetchedAt = Number.NEGATIVE_INFINITY;
  /** Until when the held keys are used without asking the server. */
  #freshUntil = Number.NEGATIVE_INFINITY;
  #loading: Promise<void> | undefined;
  readonly #imported = new Map<string, ImportedKey>();

  constructor(options: RemoteKeySetOptions) {
    this.#url = new URL(options.url);
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#now = options.now ?? Date.now;
    this.#minCacheMs = (options.minCacheSeconds ?? 30) * 1000;
    this.#maxCacheMs = Math.max(this.#minCacheMs, (options.maxCacheSeconds ?? 3600) * 1000);
    this.#defaultCacheMs = (options.defaultCacheSeconds ?? 300) * 1000;
    this.#cooldownMs = (options.cooldownSeconds ?? 30) * 1000;
    this.#timeoutMs = options.timeoutMs ?? 5000;
  }

  /** The key a JWS header names; invalid_token when there is none, temporarily_unavailable when the JWKS cannot be had. */
  async getKey(selector: KeySelector): Promise<VerificationKey> {
    await this.#ensureFresh();
    let jwk = this.#select(selector);
    if (jwk === undefined) {
      // A fetch under way may bring the key; otherwise refetch, unless we fetched only just now.
      if (this.#loading) await this.#loading.catch(() => {});
      else if (this.#now() - this.#fetchedAt >= this.#cooldownMs) await this.#reload();
      jwk = this.#select(selector);
    }
    if (jwk === undefined) {
      throw new VerifierError("invalid_token", selector.kid === undefined ? "the token names no key (kid)" : "the token is signed with an unknown key");
    }
    return this.#import(jwk, selector.alg);
  }

  /** Fetches now (shared with any fetch under way), e.g. at start-up to fail fast. */
  async reload(): Promise<void> {
    await this.#reload();
  }

  async #ensureFresh(): Promise<void> {
    if (this.#keys !== undefined && this.#now() < this.#freshUntil) return;
    try {
      await this.#reload();
    } catch (error) {
      // Stale keys beat no keys: keep verifying with them while the endpoint is down.
      if (this.#keys === undefined) throw error;
    }
  }

  #reload(): Promise<void> {
    this.#loading ??= this.#fetchKeys().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  async #fetchKeys(): Promise<void> {
    const startedAt = this.#now();
    this.#fetchedAt = startedAt;
    try {
      const headers: Record<string, string> = { accept: "application/jwk-set+json, application/json" };
      if (this.#etag !== undefined && this.#keys !== undefined) headers["if-none-match"] = this.#etag;
      const response = await this.#fetch(this.#url, { headers, signal: AbortSignal.timeout(this.#timeoutMs) });
      if (response.status === 304 && this.#keys !== undefined) {
        await response.body?.cancel();
      } else if (response.ok) {
        this.#accept(await response.json());
        this.#etag = response.headers.get("etag") ?? undefined;
      } else {
        await response.body?.cancel();
        throw new Error(`the JWKS endpoint answered ${response.status}`);
      }
      this.#freshUntil = startedAt + this.#cacheLifetimeMs(response.headers);
    } catch (error) {
      // Held keys stay in use; the endpoint is asked again after a cooldown, not on every token.
      this.#freshUntil = startedAt + this.#cooldownMs;
      throw new VerifierError("temporarily_unavailable", "could not fetch the JWKS", { cause: error });
    }
  }

  /** RFC 7517 §5: an object with a `keys` array; members that are not objects are ignored. */
  #accept(body: unknown): void {
    if (typeof body !== "object" || body === null || !Array.isArray((body as { keys?: unknown }).keys)) {
      throw new Error("the JWKS endpoint answered something other than a JWK Set");
    }
    const keys = ((body as { keys: unknown[] }).keys).filter(
      (key): key is JWK => typeof key === "object" && key !== null && typeof (key as JWK).kty === "string",
    );
    this.#keys = keys;
    // Imported keys stay only while their kid still names the very same key material.
    const current = new Map(keys.map((key) => [key.kid ?? "", JSON.stringify(key)]));
    for (const [id, imported] of this.#imported) {
      if (current.get(id.slice(0, id.lastIndexOf("\u0000"))) !== imported.source) this.#imported.delete(id);
    }
  }

  /** max-age minus Age (RFC 9111 §4.2.3), within the bounds; no-store/no-cache mean the lower bound. */
  #cacheLifetimeMs(headers: Headers): number {
    const cacheControl = headers.get("cache-control") ?? "";
    let lifetimeMs = this.#defaultCacheMs;
    if (/(?:^|,)\s*(?:no-store|no-cache)\b/i.test(cacheControl)) {
      lifetimeMs = 0;
    } else {
      const maxAge = /(?:^|,)\s*max-age\s*=\s*"?(\d+)"?/i.exec(cacheControl)?.[1];
      if (maxAge !== undefined) {
        const age = Number.parseInt(headers.get("age") ?? "0", 10);
        lifetimeMs = (Number.parseInt(maxAge, 10) - (Number.isFinite(age) ? age : 0)) * 1000;
      }
    }
    return Math.min(this.#maxCacheMs, Math.max(this.#minCacheMs, lifetimeMs));
  }

  /**
   * The key with the header's kid that fits its alg. Without a kid, the one key that fits, if
   * exactly one does (RFC 7515 §4.1.4 makes kid optional; Tessera always sends it).
   */
  #select({ kid, alg }: KeySelector): JWK | undefined {
    const fits = (key: JWK) => {
      const type = KEY_TYPE_OF_ALGORITHM[alg];
      return (
        type !== undefined &&
        key.kty === type.kty &&
        (type.crv === undefined || key.crv === type.crv) &&
        (key.alg === undefined || key.alg === alg) &&
        (key.use === undefined || key.use === "sig")
      );
    };
    const keys = this.#keys ?? [];
    if (kid === undefined) {
      const candidates = keys.filter(fits);
      return candidates.length === 1 ? candidates[0] : undefined;
    }
    const named = keys.filter((key) => key.kid === kid);
    if (named.length > 0 && !named.some(fits)) {
      // The kid exists but not for this algorithm: an algorithm confusion attempt, not a new key.
      throw new VerifierError("invalid_token", "the token's algorithm does not fit its key");
    }
    return named.find(fits);
  }

  #import(jwk: JWK, alg: string): Promise<VerificationKey> {
    const id = `${jwk.kid ?? ""}\u0000${alg}`;
    const source = JSON.stringify(jwk);
    let imported = this.#imported.get(id);
    if (imported?.source !== source) {
      imported = { source, key: importJWK(jwk, alg) };
      this.#imported.set(id, imported);
      // A key that cannot be imported is not kept, so a corrected JWKS is picked up.
      const entry = imported;
      entry.key.catch(() => {
        if (this.#imported.get(id) === entry) this.#imported.delete(id);
      });
    }
    return imported.key.catch((error: unknown) => {
      throw new VerifierError("invalid_token", "the token's key cannot be used", { cause: error });
    });
  }
}
