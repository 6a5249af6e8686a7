/**
 * The verifier's one error type. Its `code` is stable, so callers `switch (error.code)`; the
 * HTTP middleware and the Connect interceptor each translate it once, with their own table.
 */

/**
 * RFC 6750 §3.1 codes, plus `temporarily_unavailable` (RFC 6749 §5.2's name) for "the token
 * could not be checked": the JWKS or Tessera itself was unreachable, or the remote check was
 * misconfigured. That is never the caller's fault, so it must not read as `invalid_token`.
 */
export type VerifierErrorCode =
  | "invalid_request"
  | "invalid_token"
  | "insufficient_scope"
  | "temporarily_unavailable"
  /** RFC 9449 §7.1: the DPoP proof is missing, malformed, replayed or does not match. */
  | "invalid_dpop_proof"
  /** RFC 9449 §9: the proof must carry the nonce in `dpopNonce` (sent as `DPoP-Nonce`). */
  | "use_dpop_nonce";

export class VerifierError extends Error {
  override readonly name = "VerifierError";
  readonly code: VerifierErrorCode;
  /** For insufficient_scope: every scope the route requires (RFC 6750 §3 `scope` attribute). */
  readonly requiredScopes: readonly string[];
  /** For insufficient_scope: the required scopes the token lacks. */
  readonly missingScopes: readonly string[];
  /** For use_dpop_nonce: the nonce the next proof must carry. */
  readonly dpopNonce: string | undefined;
  /** The token was presented with the DPoP scheme or is DPoP-bound: challenge with DPoP (RFC 9449 §7.1). */
  readonly dpop: boolean;

  constructor(
    code: VerifierErrorCode,
    message: string,
    options: { cause?: unknown; requiredScopes?: readonly string[]; missingScopes?: readonly string[]; dpopNonce?: string; dpop?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.requiredScopes = options.requiredScopes ?? [];
    this.missingScopes = options.missingScopes ?? [];
    this.dpopNonce = options.dpopNonce;
    this.dpop = options.dpop ?? (code === "invalid_dpop_proof" || code === "use_dpop_nonce");
  }
}

export function isVerifierError(error: unknown): error is VerifierError {
  return error instanceof VerifierError;
}
