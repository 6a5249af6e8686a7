/**
 * POST /oauth/token (RFC 6749 §3.2, §4.4): parse the body and the client credentials into a
 * transport-free TokenRequest, let the OAuth core answer, write RFC 6749 §5.1 JSON.
 */
import { TesseraError } from "../../errors.js";
import type { RequestOrigin } from "../../oauth/abuse-limits.js";
import type { TokenEndpoint } from "../../oauth/token-endpoint.js";
import type { Metrics } from "../../observability/metrics.js";
import { parseScopeParameter, type TokenRequest } from "../../oauth/token-request.js";
import { presentedCredentials } from "./client-credentials.js";
import { parseFormBody, parseJsonBody, single, type BodyParameters } from "./form-body.js";
import { NO_STORE, mediaType, readBody, sendJson, type HttpRequest, type HttpResponse } from "./http-io.js";

export function originOf(request: HttpRequest): RequestOrigin {
  return { ip: request.socket?.remoteAddress ?? "unknown" };
}

export async function readParameters(request: HttpRequest): Promise<BodyParameters> {
  const type = mediaType(request);
  if (type !== "application/x-www-form-urlencoded" && type !== "application/json") {
    throw new TesseraError("invalid_request", "Content-Type must be application/x-www-form-urlencoded or application/json");
  }
  const body = await readBody(request);
  return type === "application/json" ? parseJsonBody(body) : parseFormBody(body);
}

export function tokenRequestFrom(request: HttpRequest, parameters: BodyParameters): TokenRequest {
  return {
    grantType: single(parameters, "grant_type"),
    credentials: presentedCredentials(request, parameters),
    scopes: parseScopeParameter(single(parameters, "scope")),
    audiences: [...(parameters.get("resource") ?? []), ...(parameters.get("audience") ?? [])].filter((value) => value !== ""),
    refreshToken: single(parameters, "refresh_token"),
    origin: originOf(request),
  };
}

export async function handleTokenRequest(
  request: HttpRequest,
  response: HttpResponse,
  options: { tokenEndpoint: TokenEndpoint; metrics: Metrics },
): Promise<void> {
  const parameters = await readParameters(request);
  const answer = await options.tokenEndpoint.issue(tokenRequestFrom(request, parameters));
  options.metrics.tokenIssued(answer.clientId, answer.alg, answer.grantType);
  const body: Record<string, unknown> = {
    access_token: answer.accessToken,
    token_type: answer.tokenType,
    expires_in: answer.expiresIn,
  };
  if (answer.scopes.length > 0) body.scope = answer.scopes.join(" ");
  if (answer.refreshToken) body.refresh_token = answer.refreshToken;
  sendJson(response, 200, body, NO_STORE);
}
