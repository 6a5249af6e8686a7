/**
 * Issuing a client's token on an external assertion, for the jwt-bearer grant (RFC 7523 §2.1)
 * and the token exchange of an external JWT (RFC 8693 §2.1). The token is the client's, as with
 * client credentials (RFC 6749 §4.4): its `sub` and `client_id` are the client, its scopes and
 * audiences come from the client's allowance as requested, its lifetime and signing algorithm
 * are the client's, and its rate limit applies. The external subject reaches the token only
 * through the client's claims template, for the claims the matched policy allowlists.
 */
import { UNKNOWN_ORIGIN, type AbuseLimits } from "../abuse-limits.js";
import type { FederatedClients, FederatedWay } from "../federated-clients.js";
import type { GrantContext } from "../token/grant.js";
import { parameterValue } from "../token/token-request.js";
import { tokenResponse, type TokenResponse } from "../token/token-response.js";
import { grantAudiences, grantScopes, type ScopePolicy } from "./client-credentials-grant.js";

export interface FederatedIssuanceOptions {
  readonly clients: Pick<FederatedClients, "resolve" | "issued">;
  readonly scopePolicy: ScopePolicy;
  /** The per-address budget for callers that did not authenticate, and each client's rate limit. */
  readonly limits?: Pick<AbuseLimits, "beforeAuthentication" | "afterAuthentication"> | undefined;
}

export async function issueOnFederatedAssertion(
  options: FederatedIssuanceOptions,
  context: GrantContext<"optional">,
  input: { assertion: string; grantType: string; way: FederatedWay },
): Promise<TokenResponse> {
  const { request } = context;
  const origin = request.origin ?? UNKNOWN_ORIGIN;
  // A caller that authenticated already spent and got back its address's token and its client's
  // (token-endpoint.ts); one that did not spends the address's, as an unauthenticated request.
  if (!context.client) options.limits?.beforeAuthentication(origin, undefined);
  const named = context.client?.client.id ?? parameterValue(request.parameters, "client_id");
  const match = await options.clients.resolve(input.assertion, "grant", input.way, named);
  const { record } = match;
  const { client } = record;
  if (!context.client) options.limits?.afterAuthentication(origin, client.id, client.rateLimitPerSecond);
  const scopes = grantScopes(client, request.scopes, options.scopePolicy);
  const audiences = grantAudiences(client, request.audiences);
  const issued = await context.issueAccessToken({ client, scopes, audiences, assertionClaims: match.assertionClaims });
  options.clients.issued(input.way, match);
  return tokenResponse({ record, grantType: input.grantType, issued, scopes, audiences, refreshToken: undefined });
}
