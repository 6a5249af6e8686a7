/**
 * RFC 8705 §3.1: a certificate's `x5t#S256` confirmation is the base64url SHA-256 of its DER.
 */
import { createHash, timingSafeEqual } from "node:crypto";

export function certificateThumbprint(der: Uint8Array): string {
  return createHash("sha256").update(der).digest("base64url");
}

/** Whether two thumbprints are the same, in time that does not depend on where they differ. */
export function sameThumbprint(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
