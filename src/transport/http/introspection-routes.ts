/**
 * POST /oauth/introspect (RFC 7662) and POST /oauth/revoke (RFC 7009): form bodies, the caller
 * authenticated by client credentials or a Bearer token, answers as the RFCs shape them.
 */
import { TesseraError } from "../../errors.js";
import type { IntrospectedToken, TokenIntrospection } from "../../oauth/token-introspection.js";
import { callerCredentials } from "./client-credentials.js";
import type { ClientCertificateResolver } from "../client-certificate.js";
import { actClaim } from "../../oauth/delegation-chain.js";
import { confirmationOf } from "../../oauth/confirmation.js";
import { parameterValue } from "../../oauth/token/token-request.js";
import { certificateBindingHolds, presentedThumbprint } from "../../oauth/mtls/certificate-binding-check.js";
import { NO_STORE, sendJson, writeHead, type HttpRequest, type HttpResponse } from "./http-io.js";
import { readParameters, type OriginOf } from "./token-route.js";

/** RFC 7662 §2.2 member names. */
export function introspectionJson(found: IntrospectedToken, issuer: string): Record<string, unknown> {
  if (found.tokenType === "refresh_token") {
    const { token } = found;
    return {
      active: true,
      scope: token.scopes.join(" "),
      client_id: token.clientId,
      token_type: "refresh_token",
      exp: seconds(token.expireTime),
      iat: seconds(token.issueTime),
      ...(token.audiences.length > 0 ? { aud: token.audiences.length === 1 ? token.audiences[0] : token.audiences } : {}),
      iss: issuer,
    };
  }
  const { token } = found;
  const cnf = confirmationOf(token);
  return {
    active: true,
    scope: token.scopes.join(" "),
    client_id: token.clientId,
    // RFC 9449 §6.2: a DPoP-bound token's type is DPoP, and its cnf is returned.
    token_type: cnf && typeof cnf.jkt === "string" ? "DPoP" : "Bearer",
    exp: token.expiresAt,
    iat: token.issuedAt,
    nbf: token.notBefore,
    sub: typeof token.claims.sub === "string" ? token.claims.sub : token.clientId,
    aud: token.audiences.length === 1 ? token.audiences[0] : token.audiences,
    iss: issuer,
    jti: token.jti,
    // RFC 8693 §4.1: a token obtained by token exchange shows who acts for its subject.
    ...(token.actor ? { act: actClaim(token.actor) } : {}),
    ...(cnf ? { cnf } : {}),
  };
}

const seconds = (time: Date) => Math.floor(time.getTime() / 1000);

/** The introspection parameter carrying the resource request's certificate thumbprint (Tessera's extension to RFC 7662). */
export const CERTIFICATE_THUMBPRINT_PARAMETER = "client_certificate_thumbprint";

export async function handleIntrospection(
  request: HttpRequest,
  response: HttpResponse,
  options: { introspection: TokenIntrospection; issuer: string; originOf: OriginOf; certificateOf?: ClientCertificateResolver | undefined },
): Promise<void> {
  const parameters = await readParameters(request);
  const caller = await options.introspection.authenticateCaller(callerCredentials(request, parameters, options.certificateOf?.(request)), options.originOf(request));
  const token = parameterValue(parameters, "token");
  if (!token) throw new TesseraError("invalid_request", "token is required");
  // Tessera's extensions of RFC 7662: a resource server may pass the request's DPoP proof
  // (`dpop_proof`) with its method (`htm`) and URL (`htu`), and then gets `active: true` only if
  // the token's binding holds (RFC 9449 §7.1); with the request's certificate thumbprint
  // (RFC 8705 §3.1), a token bound to another certificate, or bound while none was given, is not
  // active for it.
  const dpopProof = parameterValue(parameters, "dpop_proof");
  const htm = parameterValue(parameters, "htm");
  const htu = parameterValue(parameters, "htu");
  if (dpopProof !== undefined && (htm === undefined || htu === undefined)) throw new TesseraError("invalid_request", "htm and htu are required with dpop_proof");
  const thumbprint = presentedThumbprint(parameterValue(parameters, CERTIFICATE_THUMBPRINT_PARAMETER), CERTIFICATE_THUMBPRINT_PARAMETER);
  const found = await options.introspection.introspect(caller, token, dpopProof === undefined ? undefined : { dpop: dpopProof, method: htm!, url: htu! });
  const usable = found && (thumbprint === undefined || found.tokenType !== "access_token" || certificateBindingHolds(found.token.claims, thumbprint));
  sendJson(response, 200, found && usable ? introspectionJson(found, options.issuer) : { active: false }, NO_STORE);
}

export async function handleRevocation(
  request: HttpRequest,
  response: HttpResponse,
  options: { introspection: TokenIntrospection; now: () => Date; originOf: OriginOf; certificateOf?: ClientCertificateResolver | undefined },
): Promise<void> {
  const parameters = await readParameters(request);
  const caller = await options.introspection.authenticateCaller(callerCredentials(request, parameters, options.certificateOf?.(request)), options.originOf(request));
  const token = parameterValue(parameters, "token");
  if (!token) throw new TesseraError("invalid_request", "token is required");
  await options.introspection.revoke(caller, token, options.now());
  // RFC 7009 §2.2: 200 whether or not the token was valid; the body is ignored by clients.
  writeHead(response, 200, { ...NO_STORE, "content-length": "0" });
  response.end();
}
