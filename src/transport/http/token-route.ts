/**
 * POST /oauth/token (RFC 6749 §3.2): pass the body's parameters, the client credentials and the
 * proof material into a transport-free TokenRequest, let the OAuth core answer, write RFC 6749
 * §5.1 JSON.
 */
import { TesseraError } from "../../errors.js";
import type { RequestOrigin } from "../../oauth/abuse-limits.js";
import type { TokenEndpoint } from "../../oauth/token/token-endpoint.js";
import { parameterValue, parseScopeParameter, type TokenRequest } from "../../oauth/token/token-request.js";
import type { TokenResponse } from "../../oauth/token/token-response.js";
import { connectionCertificate, type ClientCertificateResolver } from "../client-certificate.js";
import { presentedCredentials } from "./client-credentials.js";
import { parseFormBody, parseJsonBody, type BodyParameters } from "./form-body.js";
import { NO_STORE, mediaType, readBody, sendJson, type HttpRequest, type HttpResponse } from "./http-io.js";

/** The caller's address as the gateway derives it (src/transport/client-address.ts). */
export type OriginOf = (request: HttpRequest) => RequestOrigin;

export async function readParameters(request: HttpRequest): Promise<BodyParameters> {
  const parse = bodyParserFor(request);
  return parse(await readBody(request));
}

/** How the request's body is parsed, by its media type; invalid_request for any other type. */
function bodyParserFor(request: HttpRequest): (body: Buffer) => BodyParameters {
  const type = mediaType(request);
  if (type === "application/x-www-form-urlencoded") return parseFormBody;
  if (type === "application/json") return parseJsonBody;
  throw new TesseraError("invalid_request", "Content-Type must be application/x-www-form-urlencoded or application/json");
}

/** No `resource` or `audience` parameter: shared, so such a request allocates nothing for them. */
const NO_AUDIENCES: readonly string[] = Object.freeze([]);

/** RFC 8707 `resource` values, then `audience` ones, empty values dropped. */
function requestedAudiences(parameters: BodyParameters): readonly string[] {
  const resources = parameters.get("resource");
  const audiences = parameters.get("audience");
  if (resources === undefined && audiences === undefined) return NO_AUDIENCES;
  return [...(resources ?? []), ...(audiences ?? [])].filter((value) => value !== "");
}

export function tokenRequestFrom(
  request: HttpRequest,
  parameters: BodyParameters,
  options: { originOf: OriginOf; tokenUrl: string; certificateOf?: ClientCertificateResolver | undefined },
): TokenRequest {
  const dpop = request.headers.dpop;
  const clientCertificate = options.certificateOf ? options.certificateOf(request) : connectionCertificate(request.socket);
  return {
    grantType: parameterValue(parameters, "grant_type"),
    credentials: presentedCredentials(request, parameters, clientCertificate),
    parameters,
    scopes: parseScopeParameter(parameterValue(parameters, "scope")),
    audiences: requestedAudiences(parameters),
    origin: options.originOf(request),
    // The URL is the public one the issuer names, not the Host header a caller chose (RFC 9449 §4.3 htu).
    proof: { method: request.method ?? "POST", url: options.tokenUrl, dpop: typeof dpop === "string" ? dpop : undefined, clientCertificate },
  };
}

export async function handleTokenRequest(
  request: HttpRequest,
  response: HttpResponse,
  options: { tokenEndpoint: TokenEndpoint; originOf: OriginOf; tokenUrl: string; certificateOf?: ClientCertificateResolver | undefined },
): Promise<void> {
  // The body is read and parsed here rather than through readParameters: one async frame less per token.
  const parse = bodyParserFor(request);
  const parameters = parse(await readBody(request));
  const answer = await options.tokenEndpoint.issue(tokenRequestFrom(request, parameters, options));
  sendJson(response, 200, tokenResponseJson(answer), NO_STORE);
}

/**
 * RFC 6749 §5.1 JSON, written out rather than by JSON.stringify: the access token is a JWS
 * compact serialization of our own making — base64url and dots, nothing JSON escapes — so it
 * needs no scan for characters to escape. Every other value goes through JSON.stringify.
 */
export function tokenResponseJson(
  answer: Pick<TokenResponse, "accessToken" | "tokenType" | "expiresIn" | "scopes" | "refreshToken" | "issuedTokenType" | "extra">,
): string {
  let json = `{"access_token":"${answer.accessToken}","token_type":${JSON.stringify(answer.tokenType)},"expires_in":${JSON.stringify(answer.expiresIn)}`;
  if (answer.scopes.length > 0) json += `,"scope":${JSON.stringify(answer.scopes.join(" "))}`;
  if (answer.refreshToken) json += `,"refresh_token":${JSON.stringify(answer.refreshToken)}`;
  if (answer.issuedTokenType) json += `,"issued_token_type":${JSON.stringify(answer.issuedTokenType)}`;
  if (answer.extra) {
    for (const name in answer.extra) json += `,${JSON.stringify(name)}:${JSON.stringify(answer.extra[name])}`;
  }
  return `${json}}`;
}
