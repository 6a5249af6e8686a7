/**
 * A token's confirmation (RFC 7800 `cnf`): the key it is bound to, which introspection and
 * AuthenticateToken return whole (RFC 9449 §6.2, RFC 8705 §3.2) and a resource must check.
 */
import type { JsonObject } from "../clients/client.js";
import type { ActiveAccessToken } from "./access-token-verifier.js";

/** The token's `cnf` object; undefined for a plain bearer token. */
export function confirmationOf(token: ActiveAccessToken): JsonObject | undefined {
  const cnf = token.claims.cnf;
  return typeof cnf === "object" && cnf !== null && !Array.isArray(cnf) ? (cnf as JsonObject) : undefined;
}

/** RFC 9449 §6.1 `cnf.jkt`: the thumbprint of the DPoP key the token is bound to. */
export function dpopKeyOf(token: ActiveAccessToken): string | undefined {
  const jkt = confirmationOf(token)?.jkt;
  return typeof jkt === "string" ? jkt : undefined;
}
