import { TesseraError } from "../../errors.js";

/** The one answer to every failed client authentication, whatever the cause (no enumeration). */
export const CLIENT_AUTHENTICATION_FAILED = "client authentication failed";

export function invalidClient(): TesseraError {
  return new TesseraError("invalid_client", CLIENT_AUTHENTICATION_FAILED);
}
