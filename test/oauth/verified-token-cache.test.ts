/**
 * The cache of verified access tokens (src/oauth/verified-token-cache.ts): served only while the
 * very key that verified a token is still published and the token has not expired, and bounded.
 * End to end, the revocation of a signing key stopping its tokens at once (after they were
 * introspected, so cached) is checked in test/e2e/signing-keys.test.ts.
 */
import { describe, expect, it } from "vitest";
import { VerifiedTokenCache } from "../../src/oauth/verified-token-cache.js";

const keyA = { kid: "a" };
const keyA2 = { kid: "a" };
const entry = (token: string, facts: string, key = keyA, expiresAt = 2_000) => ({ token, facts, kid: key.kid, key, expiresAt });
const published = (keys: Record<string, object>) => (kid: string) => keys[kid];

describe("VerifiedTokenCache", () => {
  it("serves a token's facts while its key is published and it has not expired", () => {
    const cache = new VerifiedTokenCache<string, object>();
    cache.set(entry("token-1", "facts-1"));
    expect(cache.get("token-1", published({ a: keyA }), 1_000)).toBe("facts-1");
    expect(cache.get("token-2", published({ a: keyA }), 1_000)).toBeUndefined();
  });

  it("drops a token whose key is no longer published, or is another key under the same kid", () => {
    const cache = new VerifiedTokenCache<string, object>();
    cache.set(entry("token-1", "facts-1"));
    expect(cache.get("token-1", published({}), 1_000)).toBeUndefined();
    expect(cache.size).toBe(0);
    cache.set(entry("token-1", "facts-1"));
    expect(cache.get("token-1", published({ a: keyA2 }), 1_000)).toBeUndefined();
    expect(cache.get("token-1", published({ a: keyA }), 1_000)).toBeUndefined();
  });

  it("drops a token at its expiry", () => {
    const cache = new VerifiedTokenCache<string, object>();
    cache.set(entry("token-1", "facts-1", keyA, 2_000));
    expect(cache.get("token-1", published({ a: keyA }), 1_999.5)).toBe("facts-1");
    expect(cache.get("token-1", published({ a: keyA }), 2_000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("holds at most its bound, letting the oldest entry go first", () => {
    const cache = new VerifiedTokenCache<string, object>(3);
    for (const n of [1, 2, 3, 4, 5]) cache.set(entry(`token-${n}`, `facts-${n}`));
    expect(cache.size).toBe(3);
    const lookup = (n: number) => cache.get(`token-${n}`, published({ a: keyA }), 1_000);
    expect([1, 2, 3, 4, 5].map(lookup)).toEqual([undefined, undefined, "facts-3", "facts-4", "facts-5"]);
    cache.set(entry("token-5", "facts-5 again"));
    expect(cache.size).toBe(3);
    expect(lookup(5)).toBe("facts-5 again");
  });

  it("holds at most its bound in bytes of token text, however long the tokens, and never one longer than the bound", () => {
    const cache = new VerifiedTokenCache<string, object>(4096, 100_000);
    for (let n = 0; n < 100; n++) cache.set(entry(`${"x".repeat(10_000)}-${n}-token-ending-in-its-own-signature`, `facts-${n}`));
    expect(cache.byteSize).toBeLessThanOrEqual(100_000);
    expect(cache.size).toBeLessThanOrEqual(5);
    const huge = `${"y".repeat(60_000)}-huge`;
    cache.set(entry(huge, "huge"));
    expect(cache.get(huge, published({ a: keyA }), 1_000)).toBeUndefined();
    expect(cache.byteSize).toBeLessThanOrEqual(100_000);
  });

  it("serves an entry only for the very token it was verified as, not for one sharing its signature's end", () => {
    const cache = new VerifiedTokenCache<string, object>();
    const signatureEnd = "x".repeat(40);
    const genuine = `eyJhbGciOiJFUzI1NiJ9.eyJzY29wZSI6InJlYWQifQ.${signatureEnd}`;
    const forged = `eyJhbGciOiJFUzI1NiJ9.eyJzY29wZSI6ImFkbWluIn0.${signatureEnd}`;
    cache.set(entry(genuine, "genuine facts"));
    expect(cache.get(forged, published({ a: keyA }), 1_000)).toBeUndefined();
    // The miss leaves the genuine entry in place.
    expect(cache.get(genuine, published({ a: keyA }), 1_000)).toBe("genuine facts");
    expect(cache.size).toBe(1);
  });
});
