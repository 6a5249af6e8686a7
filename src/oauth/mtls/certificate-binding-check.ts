/**
 * The resource server's side of certificate-bound tokens (RFC 8705 §3): a token whose `cnf`
 * holds `x5t#S256` is good only with that certificate; a token bound to none is not
 * constrained by whatever certificate came along. One rule for AuthenticateToken and
 * HTTP introspection.
 */
import { TesseraError } from "../../errors.js";
import { sameThumbprint } from "./certificate-thumbprint.js";

/** A SHA-256 thumbprint in base64url without padding is 43 characters. */
const THUMBPRINT_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** The `x5t#S256` a token is bound to; undefined when it is bound to no certificate. */
export function boundThumbprint(claims: Readonly<Record<string, unknown>>): string | undefined {
  const cnf = claims.cnf;
  if (typeof cnf !== "object" || cnf === null) return undefined;
  const thumbprint = (cnf as Record<string, unknown>)["x5t#S256"];
  return typeof thumbprint === "string" ? thumbprint : undefined;
}

/** Refuses a presented thumbprint that is not one; undefined when none was presented. */
export function presentedThumbprint(value: string | undefined, field: string): string | undefined {
  if (value === undefined || value === "") return undefined;
  if (!THUMBPRINT_PATTERN.test(value)) throw new TesseraError("invalid_request", `${field} must be the base64url SHA-256 of the certificate (43 characters)`);
  return value;
}

/** Throws invalid_token when the token is bound to a certificate other than the presented one. */
export function checkCertificateBinding(claims: Readonly<Record<string, unknown>>, presented: string | undefined): void {
  const bound = boundThumbprint(claims);
  if (bound === undefined) return;
  if (presented === undefined) {
    throw new TesseraError("invalid_token", "the token is bound to a client certificate (cnf x5t#S256) and the request presented none");
  }
  if (!sameThumbprint(bound, presented)) {
    throw new TesseraError("invalid_token", "the token is bound to another client certificate (cnf x5t#S256)");
  }
}

/** Whether the token may be used with the presented certificate (the same rule, as a yes or no). */
export function certificateBindingHolds(claims: Readonly<Record<string, unknown>>, presented: string | undefined): boolean {
  const bound = boundThumbprint(claims);
  return bound === undefined || (presented !== undefined && sameThumbprint(bound, presented));
}
