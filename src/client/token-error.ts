/**
 * The token source's one error type. `error` is the OAuth error code (RFC 6749 §5.2) so callers
 * `switch (error.error)`; when the issuer gave no OAuth answer at all, `error` still names what
 * happened in the same vocabulary (`temporarily_unavailable`, `server_error`) and `reason` says
 * whether the issuer refused, answered something unexpected or could not be reached.
 */

/**
 * - `refused`: the issuer answered with an OAuth error (its `error` member, or the error detail
 *   of an RPC).
 * - `unexpected_answer`: an answer that is not RFC 6749 §5.1/§5.2 (a proxy's HTML page, a 404);
 *   `status` holds the HTTP status.
 * - `unreachable`: no answer (refused connection, reset, timeout); `cause` holds the network error.
 */
export type TokenErrorReason = "refused" | "unexpected_answer" | "unreachable";

/** Codes worth another attempt: the issuer is busy or broken, not refusing this client. */
const TRANSIENT_ERRORS: ReadonlySet<string> = new Set(["temporarily_unavailable", "server_error", "too_many_requests", "slow_down"]);

export class TokenError extends Error {
  override readonly name = "TokenError";
  /** The OAuth error code: `invalid_client`, `invalid_scope`, `unauthorized_client`, … */
  readonly error: string;
  /** RFC 6749 §5.2 `error_description`, when the issuer sent one. */
  readonly errorDescription: string | undefined;
  readonly reason: TokenErrorReason;
  /** The HTTP status of the answer, when there was one over HTTP. */
  readonly status: number | undefined;

  constructor(
    error: string,
    message: string,
    options: { reason: TokenErrorReason; errorDescription?: string; status?: number; cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.error = error;
    this.errorDescription = options.errorDescription;
    this.reason = options.reason;
    this.status = options.status;
  }

  /**
   * Whether asking again may succeed. A refusal of the client itself (`invalid_client`,
   * `unauthorized_client`, `invalid_scope`, `invalid_target`, …) will not change by retrying, and
   * repeating a bad secret only walks into the issuer's failed-authentication backoff.
   */
  get retryable(): boolean {
    if (this.reason === "unreachable") return true;
    if (this.reason === "unexpected_answer" && this.status !== undefined) return this.status >= 500 || this.status === 429;
    return TRANSIENT_ERRORS.has(this.error);
  }
}

export function isTokenError(error: unknown): error is TokenError {
  return error instanceof TokenError;
}
