/**
 * Taking the caller's credentials out of an HTTP request (RFC 6749 §2.3): the Basic header
 * (client_secret_basic), the body (client_secret_post) or a JWT assertion (RFC 7523 §2.2; a
 * SPIFFE JWT-SVID, draft-ietf-oauth-spiffe-client-auth §3.1), or a `client_id` alone with the
 * connection's client certificate (RFC 8705 §2) — exactly one method per request. Introspection and revocation also accept a Bearer token.
 */
import { TesseraError } from "../../errors.js";
import type { CallerCredentials } from "../../oauth/token-introspection.js";
import { assertionMethod, certificateCredentials, type PresentedClientCredentials } from "../../oauth/client-authentication/presented-credentials.js";
import type { ClientCertificate } from "../../oauth/token/token-request.js";
import { basicClientCredentials, parseAuthorizationHeader } from "../authorization-header.js";
import { parameterValue } from "../../oauth/token/token-request.js";
import type { BodyParameters } from "./form-body.js";
import type { HttpRequest } from "./http-io.js";

/** Client credentials for the token endpoint; undefined when the request carries none. */
export function presentedCredentials(
  request: HttpRequest,
  body: BodyParameters,
  certificate?: ClientCertificate | undefined,
): PresentedClientCredentials | undefined {
  const caller = callerCredentials(request, body, certificate);
  if (caller?.bearerToken !== undefined) {
    throw new TesseraError("invalid_request", "the token endpoint takes client credentials, not a Bearer token");
  }
  return caller?.client;
}

/** Client credentials or a Bearer token; undefined when the request carries neither. */
export function callerCredentials(request: HttpRequest, body: BodyParameters, certificate?: ClientCertificate | undefined): CallerCredentials | undefined {
  const authorization = parseAuthorizationHeader(singleAuthorizationHeader(request));
  const bodyClientId = parameterValue(body, "client_id");
  const bodySecret = parameterValue(body, "client_secret");
  const assertion = parameterValue(body, "client_assertion");
  const assertionType = parameterValue(body, "client_assertion_type");

  const methods = Number(authorization !== undefined) + Number(bodySecret !== undefined) + Number(assertion !== undefined);
  if (methods > 1) throw new TesseraError("invalid_request", "use exactly one client authentication method");

  if (authorization?.scheme === "bearer") return { bearerToken: authorization.token };
  if (authorization?.scheme === "basic") {
    if (bodyClientId !== undefined && bodyClientId !== authorization.clientId) {
      throw new TesseraError("invalid_request", "client_id in the body differs from the Basic credentials");
    }
    return { client: basicClientCredentials(authorization) };
  }
  if (bodySecret !== undefined) {
    return { client: { method: "client_secret_post", clientId: bodyClientId, clientSecret: bodySecret } };
  }
  if (assertion !== undefined) {
    return { client: { method: assertionMethod(assertionType), clientId: bodyClientId, clientAssertion: assertion, clientAssertionType: assertionType } };
  }
  // RFC 8705 §2: client_id in the body, no secret, and the connection's certificate.
  const byCertificate = certificateCredentials(bodyClientId, certificate);
  return byCertificate && { client: byCertificate };
}

/**
 * The Authorization header, refused when sent twice. Node keeps the first and silently drops
 * the others, while a proxy in front may act on the last: like a repeated body parameter
 * (RFC 6749 §3.2), two sets of credentials in one request are refused, not chosen between.
 */
function singleAuthorizationHeader(request: HttpRequest): string | undefined {
  const raw = request.rawHeaders;
  let count = 0;
  for (let index = 0; index < raw.length; index += 2) {
    const name = raw[index]!;
    if (name.length === 13 && name.toLowerCase() === "authorization") count++;
  }
  if (count > 1) throw new TesseraError("invalid_request", "send one Authorization header");
  return request.headers.authorization;
}
