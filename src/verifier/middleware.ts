/**
 * Protecting HTTP routes: a `(req, res, next)` middleware that Express, Connect-style routers and a
 * plain `node:http` handler can all use. A verified token lands on `req.tessera` (read it with
 * `tokenOf(req)`); a refusal is answered here per RFC 6750 §3 and `next` is not called:
 *
 * - no Bearer token → 401, `WWW-Authenticate: Bearer realm="…"` (§3.1: no error code)
 * - malformed Authorization → 400, `error="invalid_request"`
 * - bad, expired, foreign or revoked token, or a certificate-bound one over a connection without
 *   its certificate → 401, `error="invalid_token"`
 * - token without the route's scopes → 403, `error="insufficient_scope", scope="…"`
 * - a delegated token where the route refuses them, or a direct one where it requires them → 403
 * - keys or Tessera unreachable → 503 with Retry-After (the caller's token may be fine)
 *
 * It fails closed: an unexpected error is answered 500 here rather than passed to `next`, so a
 * plain `node:http` caller whose `next` ignores its argument can never let a request through.
 */
import { bearerChallenge, bearerTokenFrom } from "./bearer-challenge.js";
import type { DelegationRequirement, VerifiedAccessToken, Verifier } from "./verifier.js";
import { VerifierError, type VerifierErrorCode } from "./verifier-error.js";

/** What the middleware reads of a request: node:http, http2 compatibility and Express requests fit. */
export interface TokenRequest {
  readonly headers: { readonly authorization?: string | undefined };
  /** The connection: over TLS its peer certificate is what a certificate-bound token must match (RFC 8705 §3). */
  readonly socket?: unknown;
  tessera?: VerifiedAccessToken;
}

/**
 * The client certificate of the request's TLS connection, in DER; undefined over cleartext or
 * without one. Checked against a bound token's thumbprint whether or not this server verified
 * its chain: the TLS handshake proved the caller holds the certificate's key, which is what the
 * binding asks (RFC 8705 §3).
 */
export function peerCertificateOf(request: { readonly socket?: unknown }): Uint8Array | undefined {
  const socket = request.socket as { encrypted?: boolean; getPeerCertificate?: (detailed?: boolean) => { raw?: Buffer } | null } | null | undefined;
  if (!socket?.encrypted || typeof socket.getPeerCertificate !== "function") return undefined;
  const raw = socket.getPeerCertificate(true)?.raw;
  return raw && raw.length > 0 ? raw : undefined;
}

/** What the middleware writes of a response. */
export interface TokenResponse {
  readonly headersSent: boolean;
  writeHead(statusCode: number, headers: Record<string, string>): unknown;
  end(body?: string): unknown;
}

export interface RequireTokenOptions {
  /** Scopes the token must all carry. */
  readonly scopes?: readonly string[];
  /** Also ask Tessera whether the token is still active (needs createVerifier({ remote })). */
  readonly checkRevocation?: boolean;
  /** Take delegated tokens (RFC 8693 `act`) too (`allow`, the default), only them (`require`), or never (`refuse`): 403 otherwise. */
  readonly delegation?: DelegationRequirement;
  /** The `realm` of the challenge. Default: the verifier's first audience. */
  readonly realm?: string;
}

export type TokenMiddleware = (request: TokenRequest, response: TokenResponse, next: (error?: unknown) => void) => void;

/** HTTP status per refusal: RFC 6750 §3.1, and 503 for "could not check" (RFC 9110 §15.6.4). */
const HTTP_STATUS: Readonly<Record<VerifierErrorCode, number>> = {
  invalid_request: 400,
  invalid_token: 401,
  insufficient_scope: 403,
  temporarily_unavailable: 503,
};

const RETRY_AFTER_SECONDS = "5";

export function requireToken(verifier: Verifier, options: RequireTokenOptions = {}): TokenMiddleware {
  if (options.checkRevocation && !verifier.canCheckRevocation) {
    throw new TypeError("requireToken({ checkRevocation: true }) needs createVerifier({ remote: { clientId, clientSecret } })");
  }
  const realm = options.realm ?? verifier.audiences[0];
  const verifyOptions = {
    requiredScopes: options.scopes ?? [],
    checkRevocation: options.checkRevocation ?? false,
    delegation: options.delegation ?? "allow",
  } as const;

  const refuse = (response: TokenResponse, status: number, headers: Record<string, string>, body: Record<string, string>) => {
    if (response.headersSent) return;
    response.writeHead(status, { ...headers, "content-type": "application/json", "cache-control": "no-store" });
    response.end(JSON.stringify(body));
  };

  return (request, response, next) => {
    void (async () => {
      try {
        const token = bearerTokenFrom(request.headers.authorization);
        if (token === undefined) {
          refuse(response, 401, { "www-authenticate": bearerChallenge({ realm }) }, { error_description: "a Bearer token is required" });
          return;
        }
        request.tessera = await verifier.verify(token, { ...verifyOptions, clientCertificate: peerCertificateOf(request) });
      } catch (error) {
        if (error instanceof VerifierError) {
          const headers: Record<string, string> =
            error.code === "temporarily_unavailable"
              ? { "retry-after": RETRY_AFTER_SECONDS }
              : { "www-authenticate": bearerChallenge({ realm, error }) };
          refuse(response, HTTP_STATUS[error.code], headers, { error: error.code, error_description: error.message });
        } else {
          refuse(response, 500, {}, { error: "server_error" });
        }
        return;
      }
      next();
    })();
  };
}

/** The token `requireToken` verified for this request. */
export function tokenOf(request: TokenRequest): VerifiedAccessToken {
  if (!request.tessera) throw new Error("no verified token on this request: is the route behind requireToken()?");
  return request.tessera;
}
