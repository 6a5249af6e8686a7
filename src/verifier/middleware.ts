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
 * - `Authorization: DPoP` (RFC 9449 §7.1): the `DPoP` proof is checked against the method, the
 *   URL, the token (`ath`) and its key (`cnf.jkt`), once; a bad proof → 401,
 *   `WWW-Authenticate: DPoP error="invalid_dpop_proof", algs="…"`; a required nonce missing →
 *   401 `error="use_dpop_nonce"` with `DPoP-Nonce`; a DPoP-bound token sent as Bearer → 401
 *   `DPoP error="invalid_token"`
 *
 * It fails closed: an unexpected error is answered 500 here rather than passed to `next`, so a
 * plain `node:http` caller whose `next` ignores its argument can never let a request through.
 */
import { bearerChallenge, dpopChallenge, presentedTokenFrom } from "./bearer-challenge.js";
import { DPOP_SIGNING_ALGORITHMS } from "../keys/dpop-proof.js";
import type { DelegationRequirement, VerifiedAccessToken, Verifier } from "./verifier.js";
import { VerifierError, type VerifierErrorCode } from "./verifier-error.js";

/** What the middleware reads of a request: node:http, http2 compatibility and Express requests fit. */
export interface TokenRequest {
  readonly headers: { readonly authorization?: string | undefined; readonly dpop?: string | string[] | undefined; readonly host?: string | undefined };
  /** For DPoP's `htm` and `htu` (RFC 9449 §4.3): node:http and Express fill these. */
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  /** Express: the URL before mounting stripped its prefix. */
  readonly originalUrl?: string | undefined;
  /**
   * The connection: a TLS socket has `encrypted: true`, and its peer certificate is what a
   * certificate-bound token must match (RFC 8705 §3).
   */
  readonly socket?: object | undefined;
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
  /**
   * The public origin clients call this resource at (`https://api.example.com`), for DPoP's
   * `htu`. Default: the request's Host header, with https when the connection is TLS. Set it
   * behind a proxy, or whenever the Host header is not to be trusted.
   */
  readonly origin?: string;
}

export type TokenMiddleware = (request: TokenRequest, response: TokenResponse, next: (error?: unknown) => void) => void;

/** HTTP status per refusal: RFC 6750 §3.1, and 503 for "could not check" (RFC 9110 §15.6.4). */
const HTTP_STATUS: Readonly<Record<VerifierErrorCode, number>> = {
  invalid_request: 400,
  invalid_token: 401,
  insufficient_scope: 403,
  temporarily_unavailable: 503,
  invalid_dpop_proof: 401,
  use_dpop_nonce: 401,
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
        const presented = presentedTokenFrom(request.headers.authorization);
        if (presented === undefined) {
          refuse(response, 401, { "www-authenticate": `${bearerChallenge({ realm })}, ${dpopChallenge({ realm, algorithms: DPOP_SIGNING_ALGORITHMS })}` }, { error_description: "a Bearer or DPoP token is required" });
          return;
        }
        request.tessera = await verifier.verify(presented.token, {
          ...verifyOptions,
          clientCertificate: peerCertificateOf(request),
          ...(presented.scheme === "dpop" ? { dpop: dpopRequestOf(request, options.origin) } : {}),
        });
      } catch (error) {
        if (error instanceof VerifierError) {
          const headers: Record<string, string> =
            error.code === "temporarily_unavailable"
              ? { "retry-after": RETRY_AFTER_SECONDS }
              : { "www-authenticate": error.dpop ? dpopChallenge({ realm, algorithms: DPOP_SIGNING_ALGORITHMS, error }) : bearerChallenge({ realm, error }) };
          if (error.dpopNonce !== undefined) headers["dpop-nonce"] = error.dpopNonce;
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

/**
 * The proof and what it must match (RFC 9449 §4.3): the method, and the URL the client called,
 * rebuilt from the configured origin (or Host) and the request's path. Several `DPoP` headers
 * are refused (§4.3 item 1: exactly one).
 */
function dpopRequestOf(request: TokenRequest, origin: string | undefined) {
  const header = request.headers.dpop;
  if (Array.isArray(header) || (typeof header === "string" && header.includes(","))) {
    throw new VerifierError("invalid_dpop_proof", "the request must carry exactly one DPoP header");
  }
  const base = origin ?? `${(request.socket as { encrypted?: boolean } | undefined)?.encrypted ? "https" : "http"}://${request.headers.host ?? "localhost"}`;
  return { proof: header, method: request.method ?? "GET", url: `${base.replace(/\/+$/, "")}${request.originalUrl ?? request.url ?? "/"}` };
}
