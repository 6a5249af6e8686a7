/**
 * The HTTP side's one translation of errors: TesseraError → RFC 6749 §5.2 JSON with the status
 * from this table. Anything else is an internal fault: logged, and answered with a bare
 * server_error that leaks nothing.
 */
import type { Logger } from "../../log/logger.js";
import { TesseraError, isOAuthErrorCode, type OAuthErrorCode } from "../../errors.js";
import { AUTHENTICATION_REALM } from "../authorization-header.js";
import { BodyTooLargeError, NO_STORE, sendJson, type HttpResponse } from "./http-io.js";

const HTTP_STATUS: Readonly<Record<OAuthErrorCode, number>> = {
  invalid_request: 400,
  // RFC 6749 §5.2: 401 with WWW-Authenticate for failed client authentication.
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  // RFC 6750 §3.1.
  invalid_token: 401,
  insufficient_scope: 403,
  unsupported_token_type: 400,
  // RFC 9449 §5.2 (token endpoint); a resource server answers 401 with a DPoP challenge.
  invalid_dpop_proof: 400,
  use_dpop_nonce: 400,
  server_error: 500,
  temporarily_unavailable: 503,
};

export function sendOAuthError(response: HttpResponse, error: unknown, log: Logger): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  if (!(error instanceof TesseraError)) {
    log.error({ err: error }, "unhandled error in the HTTP gateway");
    sendJson(response, 500, { error: "server_error" }, NO_STORE);
    return;
  }
  if (error.code === "too_many_requests") {
    sendJson(response, 429, { error: error.code, error_description: error.description }, {
      ...NO_STORE,
      "retry-after": String(error.retryAfterSeconds ?? 1),
    });
    return;
  }
  // Admin-style codes have no OAuth meaning; the gateway only meets invalid_argument.
  const code: OAuthErrorCode = isOAuthErrorCode(error.code)
    ? error.code
    : error.code === "invalid_argument"
      ? "invalid_request"
      : error.code === "unavailable"
        ? "temporarily_unavailable"
        : "server_error";
  const status = error instanceof BodyTooLargeError ? 413 : HTTP_STATUS[code];
  const headers: Record<string, string> = { ...NO_STORE };
  if (code === "invalid_client") headers["www-authenticate"] = `Basic realm="${AUTHENTICATION_REALM}", charset="UTF-8"`;
  // RFC 6750 §3: a refused Bearer token is challenged with its error.
  if (code === "invalid_token" || code === "insufficient_scope") {
    headers["www-authenticate"] = `Bearer realm="${AUTHENTICATION_REALM}", error="${code}"`;
  }
  // RFC 9449 §8: the nonce to use in the next proof.
  if (error.dpopNonce !== undefined) headers["dpop-nonce"] = error.dpopNonce;
  const body = code === "server_error" ? { error: code } : { error: code, error_description: error.description };
  sendJson(response, status, body, headers);
}
