/**
 * Random identifiers for the hot path (request ids, token ids). `randomBytes(n)` per call costs
 * a trip into OpenSSL each time — a few percent of a token request — so bytes are drawn from
 * the CSPRNG a page at a time and handed out in slices, as node's `randomUUID` does with its
 * own cache. Every byte is used once.
 */
import { randomBytes } from "node:crypto";

const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

/** `bytes` fresh random bytes, base64url-encoded. */
export function randomId(bytes: number): string {
  if (offset + bytes > pool.length) {
    pool = randomBytes(Math.max(POOL_BYTES, bytes));
    offset = 0;
  }
  const id = pool.toString("base64url", offset, offset + bytes);
  offset += bytes;
  return id;
}
