/**
 * Client secrets: generated with 256 bits of entropy, stored only as hashes, compared in
 * constant time. A random 256-bit secret cannot be brute-forced, so a fast hash (SHA-256) is
 * as safe as a password KDF here and costs microseconds instead of milliseconds per token.
 */
import { hash, randomBytes, timingSafeEqual } from "node:crypto";
import type { ClientSecretHash, SecretSlot } from "./client.js";

const SECRET_BYTES = 32;

export interface NewClientSecret {
  /** The plaintext, to show once and then forget. */
  readonly secret: string;
  readonly stored: ClientSecretHash;
}

export function generateClientSecret(slot: SecretSlot, now: Date = new Date()): NewClientSecret {
  const secret = randomBytes(SECRET_BYTES).toString("base64url");
  return { secret, stored: hashNewSecret(secret, slot, now) };
}

export function hashNewSecret(secret: string, slot: SecretSlot, now: Date = new Date()): ClientSecretHash {
  return { slot, algorithm: "sha256", hash: hashClientSecret(secret), lastFour: secret.slice(-4), createTime: now };
}

export function hashClientSecret(secret: string): string {
  return hash("sha256", secret, "hex");
}

/** A digest no secret hashes to, compared against when the client is unknown. */
const DECOY_DIGEST = Buffer.alloc(32, 0xa5);

/**
 * Whether `presented` matches any of the stored hashes. Every stored hash is compared, each in
 * constant time, and an unknown client (no hashes) costs the same hash-and-compare, so timing
 * tells neither which secret matched nor whether the client exists.
 */
export function verifyClientSecret(presented: string, stored: readonly ClientSecretHash[]): boolean {
  // One-shot hashing: half the cost of createHash().update().digest() per token request.
  const digest = hash("sha256", presented, "buffer");
  if (stored.length === 0) {
    timingSafeEqual(digest, DECOY_DIGEST);
    return false;
  }
  let match = false;
  for (const secret of stored) {
    const expected = storedDigest(secret);
    if (expected.length === digest.length && timingSafeEqual(digest, expected)) match = true;
  }
  return match;
}

/** Stored hashes decoded from hex once: records live in memory, and this runs per token request. */
const decodedDigests = new WeakMap<ClientSecretHash, Buffer>();

function storedDigest(secret: ClientSecretHash): Buffer {
  let digest = decodedDigests.get(secret);
  if (digest === undefined) {
    digest = Buffer.from(secret.hash, "hex");
    decodedDigests.set(secret, digest);
  }
  return digest;
}
