/**
 * The client credentials grant (RFC 6749 §4.4): the authenticated client gets a token for
 * itself, with scopes from its allowance (§3.3) and audiences from its allowed resources
 * (RFC 8707 §2). No refresh token by default (§4.4.3).
 */
import type { Client } from "../../clients/client.js";
import { TesseraError } from "../../errors.js";
import type { RefreshTokens } from "../refresh-tokens.js";
import type { Grant } from "../token/grant.js";
import { tokenResponse } from "../token/token-response.js";

export type ScopePolicy = "strict" | "narrow";

export function clientCredentialsGrant(options: { scopePolicy: ScopePolicy; refreshTokens: RefreshTokens }) {
  return {
    grantType: "client_credentials",
    parameters: [],
    clientAuthentication: "required",
    async handle(context) {
      const record = context.client;
      const { client } = record;
      const scopes = grantScopes(client, context.request.scopes, options.scopePolicy);
      const audiences = grantAudiences(client, context.request.audiences);
      const issued = await context.issueAccessToken({ client, scopes, audiences });
      // Opt-in only: RFC 6749 §4.4.3 says a refresh token SHOULD NOT be included by default.
      const refreshToken = client.refreshTokensEnabled
        ? await options.refreshTokens.startChain(record, { scopes, audiences, accessToken: issued })
        : undefined;
      return tokenResponse({ record, grantType: "client_credentials", issued, scopes, audiences, refreshToken });
    },
  } as const satisfies Grant<"required">;
}

/**
 * RFC 6749 §3.3: absent scope → the client's default scopes. A requested scope outside the
 * allowance is invalid_scope under the strict policy (no silent widening or narrowing); the
 * narrow policy grants the allowed subset and fails only when nothing is left.
 */
export function grantScopes(client: Client, requested: readonly string[] | undefined, policy: ScopePolicy): readonly string[] {
  if (requested === undefined) return client.defaultScopes;
  const allowed = allowedSet(client.allowedScopes);
  // One scope, as most requests name: nothing to deduplicate.
  if (requested.length === 1 && allowed.has(requested[0]!)) return requested;
  const unique = [...new Set(requested)];
  const granted = unique.filter((scope) => allowed.has(scope));
  if (policy === "strict" && granted.length !== unique.length) {
    const refused = unique.filter((scope) => !allowed.has(scope));
    throw new TesseraError("invalid_scope", `scope not allowed for this client: ${refused.slice(0, 10).join(" ")}`);
  }
  if (granted.length === 0) throw new TesseraError("invalid_scope", "none of the requested scopes is allowed for this client");
  return granted;
}

/** RFC 8707 §2: each requested resource must be one the client may get tokens for. */
export function grantAudiences(client: Client, requested: readonly string[]): readonly string[] {
  if (requested.length === 0) return client.defaultAudiences;
  const allowed = allowedSet(client.allowedAudiences);
  const unique = requested.length === 1 ? requested : [...new Set(requested)];
  const refused = unique.filter((audience) => !allowed.has(audience));
  if (refused.length > 0) {
    throw new TesseraError("invalid_target", `audience not allowed for this client: ${refused.slice(0, 5).join(" ")}`);
  }
  return unique;
}

/**
 * A client's allowance as a set, made once per client record rather than per request. Keyed by
 * the record's own list, which a change to the client replaces along with the record.
 */
const allowedSets = new WeakMap<readonly string[], ReadonlySet<string>>();

function allowedSet(allowance: readonly string[]): ReadonlySet<string> {
  let set = allowedSets.get(allowance);
  if (set === undefined) {
    set = new Set(allowance);
    allowedSets.set(allowance, set);
  }
  return set;
}
