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

/**
 * What a secret chosen outside Tessera (an imported client's, the bootstrap admin's) must meet.
 * Ours are 256 random bits; someone else's entropy is unknown, so it is estimated.
 */
export const CHOSEN_SECRET_RULES = {
  minLength: 32,
  maxLength: 512,
  /**
   * The floor of estimateSecretBits. A random 128-bit secret (`openssl rand -hex 16`) estimates
   * 108–128 bits, since chance repeats are discounted too, so the floor sits at 112 — the least
   * security strength NIST SP 800-57 accepts — rather than at 128, which would refuse half of
   * them at random. `openssl rand -base64 32` estimates ≥ 270 and `-hex 32` ≥ 220; every
   * patterned secret tried ("a" × 32, "Aa1!" × 10, "changeme-…", "0123…") stays under 60.
   */
  minEstimatedBits: 112,
} as const;

/** A run continues for the 4th character on that keeps a step of -1, 0 or +1 ("aaaa", "abcd", "4321"). */
const RUN_START = 3;
/** A repeat of an earlier stretch counts as one character once it is this long. */
const MIN_REPEAT = 4;

/**
 * A deliberately simple estimate of a secret's entropy, in bits: the characters that are not
 * explained by what came before, each worth log2 of the alphabet the secret's character classes
 * span. Not explained: the rest of a run (same character, or counting up or down by one), and a
 * stretch that repeats an earlier one (counted as one character). The alphabet is 10 for digits
 * only, 16 for hex, else the sum of the classes present: a–z 26, A–Z 26, 0–9 10, others 32.
 * It cannot see dictionary words: a passphrase of common words estimates higher than it is.
 */
export function estimateSecretBits(secret: string): number {
  const codes = Array.from(secret, (character) => character.codePointAt(0)!);
  let characters = 0;
  for (let index = 0; index < codes.length; ) {
    if (index >= RUN_START && continuesRun(codes, index)) {
      index++;
      continue;
    }
    const repeat = longestEarlierMatch(codes, index);
    characters++;
    index += repeat >= MIN_REPEAT ? repeat : 1;
  }
  return characters * Math.log2(alphabetSize(secret));
}

function continuesRun(codes: readonly number[], index: number): boolean {
  const step = codes[index]! - codes[index - 1]!;
  if (Math.abs(step) > 1) return false;
  for (let back = 1; back < RUN_START; back++) {
    if (codes[index - back]! - codes[index - back - 1]! !== step) return false;
  }
  return true;
}

/** The length of the longest stretch starting at `index` that also starts earlier (overlap allowed, as in "aaaa"). */
function longestEarlierMatch(codes: readonly number[], index: number): number {
  let longest = 0;
  for (let start = 0; start < index; start++) {
    let length = 0;
    while (index + length < codes.length && codes[start + length] === codes[index + length]) length++;
    longest = Math.max(longest, length);
  }
  return longest;
}

function alphabetSize(secret: string): number {
  if (/^[0-9]+$/.test(secret)) return 10;
  if (/^[0-9a-f]+$/.test(secret) || /^[0-9A-F]+$/.test(secret)) return 16;
  let size = 0;
  if (/[a-z]/.test(secret)) size += 26;
  if (/[A-Z]/.test(secret)) size += 26;
  if (/[0-9]/.test(secret)) size += 10;
  if (/[^A-Za-z0-9]/.test(secret)) size += 32;
  return Math.max(size, 1);
}

/**
 * Why a secret chosen outside Tessera is too weak to protect a client; undefined when it will
 * do. Used for ImportClient and for TESSERA_ADMIN_CLIENT_SECRET, so both refuse the same secrets.
 */
export function chosenSecretWeakness(secret: string): string | undefined {
  const { minLength, maxLength, minEstimatedBits } = CHOSEN_SECRET_RULES;
  if (secret.length < minLength || secret.length > maxLength) return `must be ${minLength} to ${maxLength} characters`;
  if (/[\s\u0000-\u001f\u007f]/.test(secret)) return "must not contain spaces or control characters";
  const bits = estimateSecretBits(secret);
  if (bits < minEstimatedBits) {
    return `is too predictable (about ${Math.floor(bits)} bits; at least ${minEstimatedBits} needed): use a random secret such as \`openssl rand -base64 32\``;
  }
  return undefined;
}
