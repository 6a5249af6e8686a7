/**
 * Turning "the database is not there" into the domain's `unavailable`, once, at the store's
 * edge: admin calls then fail UNAVAILABLE / 503 instead of INTERNAL / 500, and callers can
 * retry. Other storage errors stay what they are (internal faults).
 */
import { TesseraError } from "../errors.js";

const UNREACHABLE_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections", "TlsConnectionError"]);
const UNREACHABLE_PRISMA_CODES = new Set(["P1001", "P1002", "P1017", "P2024", "P2028"]);
const UNREACHABLE_NODE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTCONN", "EHOSTUNREACH"]);
/** PostgreSQL SQLSTATEs for a server going away: admin_shutdown, crash_shutdown, cannot_connect_now, connection_*. */
const UNREACHABLE_SQLSTATE = /^(57P0[123]|08...)$/;

export function isStorageUnreachable(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== "object" || depth > 4) return false;
  const candidate = error as {
    code?: unknown;
    kind?: unknown;
    message?: unknown;
    cause?: unknown;
    meta?: { driverAdapterError?: { cause?: { kind?: unknown; originalCode?: unknown } } };
  };
  const adapterCause = candidate.meta?.driverAdapterError?.cause;
  if (typeof adapterCause?.kind === "string" && UNREACHABLE_KINDS.has(adapterCause.kind)) return true;
  if (typeof adapterCause?.originalCode === "string" && UNREACHABLE_SQLSTATE.test(adapterCause.originalCode)) return true;
  if (typeof candidate.kind === "string" && UNREACHABLE_KINDS.has(candidate.kind)) return true;
  if (typeof candidate.code === "string") {
    if (UNREACHABLE_PRISMA_CODES.has(candidate.code) || UNREACHABLE_NODE_CODES.has(candidate.code) || UNREACHABLE_SQLSTATE.test(candidate.code)) return true;
  }
  if (typeof candidate.message === "string" && /Connection terminated|connection timeout|Cannot use a pool after calling end|Client has encountered a connection error/i.test(candidate.message)) {
    return true;
  }
  return isStorageUnreachable(candidate.cause, depth + 1);
}

export function storageUnavailable(): TesseraError {
  return new TesseraError("unavailable", "the database is unavailable; retry shortly");
}

/** Wraps every async method of a repository so unreachable-database errors become `unavailable`. */
export function guardStorage<T extends object>(repository: T): T {
  return new Proxy(repository, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        let result: unknown;
        try {
          result = (value as (...params: unknown[]) => unknown).apply(target, args);
        } catch (error) {
          throw isStorageUnreachable(error) ? storageUnavailable() : error;
        }
        return result instanceof Promise
          ? result.catch((error: unknown) => {
              throw isStorageUnreachable(error) ? storageUnavailable() : error;
            })
          : result;
      };
    },
  });
}
