/**
 * The one rule for a Bearer token presented to Tessera's own API (admin, introspection,
 * revocation): one of our access tokens, active now (its client too), issued for Tessera itself
 * (aud = issuer, RFC 9068 §4: a resource server must reject a token not meant for it), and
 * carrying one of the scopes that may make the call. Transports take the token out of their
 * Authorization header and turn a refusal into their own error; this module only decides.
 */
import type { AccessTokenVerifier, ActiveAccessToken } from "./access-token-verifier.js";
import { dpopKeyOf } from "./confirmation.js";

/** Why a Bearer token may not call Tessera's own API. */
export type OwnApiRefusal = "not_active" | "wrong_audience" | "insufficient_scope";

export type OwnApiCaller =
  | { readonly allowed: true; readonly token: ActiveAccessToken }
  /** `token` is there when the token was active, so a refusal can name its client. */
  | { readonly allowed: false; readonly refusal: OwnApiRefusal; readonly token?: ActiveAccessToken | undefined };

/** Decides whether `token` may make a call that any one of `permittedScopes` allows. */
export async function identifyOwnApiCaller(options: {
  token: string;
  /** Any one of these scopes allows the call; none means nobody may make it. */
  permittedScopes: readonly string[];
  verifier: AccessTokenVerifier;
  /** Tessera's issuer: its own API is the audience its tokens must name. */
  issuer: string;
}): Promise<OwnApiCaller> {
  const token = await options.verifier.verify(options.token);
  if (!token) return { allowed: false, refusal: "not_active" };
  // RFC 9449 §7.1: a DPoP-bound token is never accepted as a bearer token; Tessera's own API
  // takes bearer tokens only.
  if (dpopKeyOf(token) !== undefined) return { allowed: false, refusal: "not_active", token };
  if (!token.audiences.includes(options.issuer)) return { allowed: false, refusal: "wrong_audience", token };
  if (!options.permittedScopes.some((scope) => token.scopes.includes(scope))) {
    return { allowed: false, refusal: "insufficient_scope", token };
  }
  return { allowed: true, token };
}

