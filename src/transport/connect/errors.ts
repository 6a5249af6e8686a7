/**
 * The RPC side's one translation of errors: TesseraError → ConnectError with the code from
 * this table and the OAuth error carried as a `tessera.v1.OAuthError` detail. This table is
 * not derived from the HTTP one on purpose: RFC 6749 §5.2 answers invalid_scope with 400,
 * where an RPC caller expects PERMISSION_DENIED.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { TesseraError, isOAuthErrorCode, type ErrorCode } from "../../errors.js";
import type { Logger } from "../../log/logger.js";
import { OAuthErrorSchema } from "../../gen/tessera/v1/oauth_error_pb.js";

export const CONNECT_CODE: Readonly<Record<ErrorCode, Code>> = {
  invalid_request: Code.InvalidArgument,
  invalid_client: Code.Unauthenticated,
  invalid_grant: Code.InvalidArgument,
  unauthorized_client: Code.PermissionDenied,
  unsupported_grant_type: Code.InvalidArgument,
  invalid_scope: Code.PermissionDenied,
  invalid_target: Code.PermissionDenied,
  invalid_token: Code.Unauthenticated,
  insufficient_scope: Code.PermissionDenied,
  unsupported_token_type: Code.InvalidArgument,
  // The caller failed to prove possession of its key (RFC 9449): an authentication failure.
  invalid_dpop_proof: Code.Unauthenticated,
  use_dpop_nonce: Code.Unauthenticated,
  server_error: Code.Internal,
  temporarily_unavailable: Code.Unavailable,
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  failed_precondition: Code.FailedPrecondition,
  aborted: Code.Aborted,
  unauthenticated: Code.Unauthenticated,
  permission_denied: Code.PermissionDenied,
  unavailable: Code.Unavailable,
  unimplemented: Code.Unimplemented,
  too_many_requests: Code.ResourceExhausted,
};

export function toConnectError(error: unknown, log: Logger): ConnectError {
  if (error instanceof TesseraError) {
    const details = isOAuthErrorCode(error.code)
      ? [{ desc: OAuthErrorSchema, value: { error: error.code, errorDescription: error.description } }]
      : [];
    const metadata: Record<string, string> | undefined =
      error.retryAfterSeconds !== undefined ? { "retry-after": String(error.retryAfterSeconds) } : error.dpopNonce !== undefined ? { "dpop-nonce": error.dpopNonce } : undefined;
    return new ConnectError(error.description, CONNECT_CODE[error.code], metadata, details);
  }
  if (error instanceof ConnectError) return error;
  // Not ours: log it, and tell the caller nothing about it.
  log.error({ err: error }, "unhandled error in an RPC");
  return new ConnectError("internal error", Code.Internal);
}

/**
 * A failure while reading a request message — splitting, inflating, decoding — is the caller's
 * fault: connect-es (like grpc-go) calls it INTERNAL, our contract INVALID_ARGUMENT.
 */
export function asCallerFault(error: unknown): unknown {
  if (error instanceof ConnectError && error.code === Code.Internal) {
    return new ConnectError(error.rawMessage, Code.InvalidArgument, error.metadata, undefined, error);
  }
  return error;
}
