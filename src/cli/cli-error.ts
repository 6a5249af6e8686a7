/**
 * The CLI's one error type and its exit codes. Every failure — a bad flag, a refused RPC, an
 * unreachable server — becomes a CliError with a stable code, and the code alone decides the
 * exit status, so scripts can branch on `$?` without reading messages.
 */
import { Code, ConnectError } from "@connectrpc/connect";

/** Connect's code names (snake_case, as on the wire), plus `usage` for a malformed command line. */
export type FailureCode =
  | "usage"
  | "canceled"
  | "unknown"
  | "invalid_argument"
  | "deadline_exceeded"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "resource_exhausted"
  | "failed_precondition"
  | "aborted"
  | "out_of_range"
  | "unimplemented"
  | "internal"
  | "unavailable"
  | "data_loss"
  | "unauthenticated";

export class CliError extends Error {
  override readonly name = "CliError";

  constructor(
    readonly code: FailureCode,
    message: string,
  ) {
    super(message);
  }
}

export function usageError(message: string): CliError {
  return new CliError("usage", message);
}

export const EXIT_OK = 0;

/** The exit status for each failure; anything not listed exits 1. */
const EXIT_CODES: Readonly<Partial<Record<FailureCode, number>>> = {
  usage: 2,
  not_found: 3,
  already_exists: 4,
  aborted: 4,
  unauthenticated: 5,
  permission_denied: 5,
  invalid_argument: 6,
  failed_precondition: 6,
  unavailable: 7,
  // A call that timed out is, to a script, a server it could not reach in time.
  deadline_exceeded: 7,
};

export function exitCodeOf(code: FailureCode): number {
  return EXIT_CODES[code] ?? 1;
}

/** The exit-code table as `--help` shows it. */
export const EXIT_CODE_HELP = `Exit codes:
  0  success
  1  any other error
  2  usage error (unknown command or option, missing argument, bad value)
  3  not found
  4  already exists, or aborted (etag mismatch, concurrent change)
  5  unauthenticated or permission denied (wrong credentials, missing scope, inactive client)
  6  invalid argument or failed precondition (e.g. no secret rotation under way)
  7  unavailable: cannot connect, server unavailable, or timed out`;

const CODE_NAMES: Readonly<Record<Code, FailureCode>> = {
  [Code.Canceled]: "canceled",
  [Code.Unknown]: "unknown",
  [Code.InvalidArgument]: "invalid_argument",
  [Code.DeadlineExceeded]: "deadline_exceeded",
  [Code.NotFound]: "not_found",
  [Code.AlreadyExists]: "already_exists",
  [Code.PermissionDenied]: "permission_denied",
  [Code.ResourceExhausted]: "resource_exhausted",
  [Code.FailedPrecondition]: "failed_precondition",
  [Code.Aborted]: "aborted",
  [Code.OutOfRange]: "out_of_range",
  [Code.Unimplemented]: "unimplemented",
  [Code.Internal]: "internal",
  [Code.Unavailable]: "unavailable",
  [Code.DataLoss]: "data_loss",
  [Code.Unauthenticated]: "unauthenticated",
};

/** The one funnel from anything thrown to a CliError. */
export function toCliError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof ConnectError) return new CliError(CODE_NAMES[error.code] ?? "unknown", error.rawMessage);
  return new CliError("unknown", error instanceof Error ? error.message : String(error));
}
