/**
 * The verification keys of trusted issuers, as the token path asks for them. The implementation
 * fetches through the hardened outbound fetcher, caches per `Cache-Control` within bounds and
 * never fetches on the request path for a `kid` it already holds.
 */
import type { KeyObject } from "node:crypto";
import type { TrustedIssuer } from "./federation.js";

export interface IssuerKeys {
  /**
   * The public key that verifies a token with this JWS header from this issuer: the key with the
   * header's `kid` (or the only key when the token names none), of a type that fits `alg`, whose
   * own `alg` (if it states one) equals the header's. Throws a `TesseraError("invalid_grant")`
   * saying which check failed when there is none (unknown `kid` after the one allowed refetch,
   * issuer unreachable past the stale window, …); callers re-code it for client authentication.
   */
  keyFor(issuer: TrustedIssuer, header: { readonly alg?: string | undefined; readonly kid?: string | undefined }): Promise<KeyObject>;
}
