/**
 * The one error type of Tessera's domain. Its `code` is stable and transport-free: the HTTP
 * gateway and the Connect services each translate it exactly once, with their own table
 * (src/transport/http/oauth-error-response.ts, src/transport/connect/errors.ts). Anything
 * thrown that is not a TesseraError is an internal fault and leaves as a bare server_error.
 */

/** RFC 6749 §5.2, RFC 6750 §3.1, RFC 8707 §2, RFC 9449 §5 and §8 error codes. */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "invalid_scope"
  | "invalid_target"
  | "invalid_token"
  | "insufficient_scope"
  | "unsupported_token_type"
  | "invalid_dpop_proof"
  | "use_dpop_nonce"
  | "server_error"
  | "temporarily_unavailable";

/** Codes of the admin API, which has no OAuth meaning (AIP-193 canonical codes). */
export type ResourceErrorCode =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "failed_precondition"
  | "aborted"
  | "unauthenticated"
  | "permission_denied"
  | "unavailable"
  | "unimplemented"
  /** A rate limit or lockout; carries retryAfterSeconds. Not an RFC 6749 code (none exists). */
  | "too_many_requests";

export type ErrorCode = OAuthErrorCode | ResourceErrorCode;

export class TesseraError extends Error {
  override readonly name = "TesseraError";
  constructor(
    readonly code: ErrorCode,
    /** Safe to show the caller: never contains secrets or internals. */
    readonly description: string,
    /** For invalid_argument: the request field at fault. */
    readonly field?: string,
    /** For too_many_requests: when to try again. */
    readonly retryAfterSeconds?: number,
    /** For use_dpop_nonce (RFC 9449 §8): the nonce the caller must put in its next proof, sent as `DPoP-Nonce`. */
    readonly dpopNonce?: string,
  ) {
    super(description);
  }
}

export const OAUTH_ERROR_CODES: ReadonlySet<string> = new Set<OAuthErrorCode>([
  "invalid_request",
  "invalid_client",
  "invalid_grant",
  "unauthorized_client",
  "unsupported_grant_type",
  "invalid_scope",
  "invalid_target",
  "invalid_token",
  "insufficient_scope",
  "unsupported_token_type",
  "invalid_dpop_proof",
  "use_dpop_nonce",
  "server_error",
  "temporarily_unavailable",
]);

export function isOAuthErrorCode(code: ErrorCode): code is OAuthErrorCode {
  return OAUTH_ERROR_CODES.has(code);
}

/** For RPCs whose contract is published before their implementation. */
export function unimplemented(rpc: string): never {
  throw new TesseraError("unimplemented", `${rpc} is not available in this version of Tessera`);
}
