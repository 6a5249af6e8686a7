/**
 * Taking client credentials out of an HTTP request (RFC 6749 §2.3): the Basic header
 * (client_secret_basic), the body (client_secret_post) or a JWT assertion (RFC 7523 §2.2).
 * Exactly one method per request.
 */
import { TesseraError } from "../../errors.js";
import type { PresentedClientCredentials } from "../../oauth/token-request.js";
import { single, type BodyParameters } from "./form-body.js";
import type { HttpRequest } from "./http-io.js";

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before they go into the Basic header. */
function decodeBasicPart(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, " "));
  } catch {
    throw new TesseraError("invalid_request", "malformed percent-encoding in the Basic credentials");
  }
}

export function parseBasicAuthorization(header: string): { clientId: string; clientSecret: string } {
  const match = /^Basic +(\S+) *$/i.exec(header);
  if (!match) throw new TesseraError("invalid_request", "Authorization header must use the Basic scheme");
  const encoded = match[1]!;
  if (!BASE64.test(encoded) || encoded.length % 4 === 1) {
    throw new TesseraError("invalid_request", "Basic credentials are not valid base64");
  }
  const decoded = Buffer.from(encoded, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon === -1) throw new TesseraError("invalid_request", "Basic credentials must be client_id:client_secret");
  return { clientId: decodeBasicPart(decoded.slice(0, colon)), clientSecret: decodeBasicPart(decoded.slice(colon + 1)) };
}

/** The presented credentials; undefined when the request carries none. */
export function presentedCredentials(request: HttpRequest, body: BodyParameters): PresentedClientCredentials | undefined {
  const authorization = request.headers.authorization;
  const bodyClientId = single(body, "client_id");
  const bodySecret = single(body, "client_secret");
  const assertion = single(body, "client_assertion");
  const assertionType = single(body, "client_assertion_type");

  const methods = [authorization !== undefined, bodySecret !== undefined, assertion !== undefined].filter(Boolean).length;
  if (methods > 1) throw new TesseraError("invalid_request", "use exactly one client authentication method");

  if (authorization !== undefined) {
    const { clientId, clientSecret } = parseBasicAuthorization(authorization);
    if (bodyClientId !== undefined && bodyClientId !== clientId) {
      throw new TesseraError("invalid_request", "client_id in the body differs from the Basic credentials");
    }
    return { method: "client_secret_basic", clientId, clientSecret };
  }
  if (bodySecret !== undefined) {
    return { method: "client_secret_post", clientId: bodyClientId, clientSecret: bodySecret };
  }
  if (assertion !== undefined) {
    return { method: "private_key_jwt", clientId: bodyClientId, clientAssertion: assertion, clientAssertionType: assertionType };
  }
  return undefined;
}
