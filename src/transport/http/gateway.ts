/**
 * The OAuth HTTP gateway: every non-RPC path on the shared port. A thin adapter — it parses,
 * calls the OAuth core, and writes standard answers; it holds no OAuth logic of its own.
 */
import { TesseraError } from "../../errors.js";
import type { KeyRing } from "../../keys/key-ring.js";
import type { Metrics } from "../../observability/metrics.js";
import { inServerSpan, type Attributes } from "../../observability/tracing.js";
import type { Logger } from "../../log/logger.js";
import type { TokenEndpoint } from "../../oauth/token/token-endpoint.js";
import type { TokenIntrospection } from "../../oauth/token-introspection.js";
import { handleIntrospection, handleRevocation } from "./introspection-routes.js";
import { REQUEST_ID_HEADER, requestIdFrom } from "../request-id.js";
import { RequestAbortedError, sendJson, setRequestId, writeHead, type HttpRequest, type HttpResponse } from "./http-io.js";
import { INTROSPECTION_PATH, JWKS_PATH, REVOCATION_PATH, TOKEN_PATH, endpointUrl } from "./metadata.js";
import { sendOAuthError } from "./oauth-error-response.js";
import { handleTokenRequest, type OriginOf } from "./token-route.js";
import type { ClientCertificateResolver } from "../client-certificate.js";

export interface Readiness {
  /** Whether the service can take changes: database reachable, migrations applied. */
  check(): Promise<{ ready: boolean; checks: Record<string, string> }>;
}

export interface GatewayOptions {
  readonly tokenEndpoint: TokenEndpoint;
  readonly introspection: TokenIntrospection;
  readonly issuer: string;
  readonly now: () => Date;
  readonly keyRing: KeyRing;
  /** The serialized RFC 8414 metadata document. */
  readonly metadata: string;
  /** Path of the issuer URL, for the RFC 8414 §3 path-suffixed well-known location. */
  readonly issuerPath: string;
  /** How long verifiers may cache /keys. */
  readonly jwksMaxAgeSeconds: number;
  readonly readiness: Readiness;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** The caller's address, for abuse limits (trusted proxies believed). */
  readonly originOf: OriginOf;
  /** The caller's TLS client certificate (client-certificate.ts); absent: the connection's own. */
  readonly certificateOf?: ClientCertificateResolver | undefined;
}

/** Refusals counted as authentication failures, by their OAuth code. */
const AUTH_FAILURE_CODES = new Set(["invalid_client", "invalid_token", "insufficient_scope", "unauthorized_client", "invalid_grant", "too_many_requests"]);

type Handler = (request: HttpRequest, response: HttpResponse) => Promise<void> | void;
type Method = "GET" | "POST";
type Route = Partial<Record<Method, Handler>>;
type SpanNaming = { name: string; attributes: Attributes };

/**
 * A handler's outcome as a promise, a synchronous throw included, without wrapping an async
 * handler's promise in another async frame on every request.
 */
function settled(handler: Handler, request: HttpRequest, response: HttpResponse): Promise<void> {
  try {
    const outcome = handler(request, response);
    return outcome instanceof Promise ? outcome : Promise.resolve();
  } catch (error) {
    return Promise.reject(error);
  }
}

export function createHttpGateway(options: GatewayOptions): (request: HttpRequest, response: HttpResponse) => void {
  const { log } = options;
  const sendMetadata: Handler = (_request, response) => {
    sendJson(response, 200, options.metadata, { "cache-control": "public, max-age=3600" });
  };
  const sendKeys: Handler = (request, response) => {
    const jwks = options.keyRing.jwks();
    const headers = {
      "cache-control": `public, max-age=${options.jwksMaxAgeSeconds}`,
      etag: jwks.etag,
    };
    if (request.headers["if-none-match"] === jwks.etag) {
      writeHead(response, 304, headers);
      response.end();
      return;
    }
    sendJson(response, 200, jwks.body, { ...headers, "content-type": "application/jwk-set+json" });
  };

  const tokenRoute = {
    tokenEndpoint: options.tokenEndpoint,
    originOf: options.originOf,
    tokenUrl: endpointUrl(options.issuer, TOKEN_PATH),
    certificateOf: options.certificateOf,
  };
  const routes = new Map<string, Route>([
    [TOKEN_PATH, { POST: (request, response) => handleTokenRequest(request, response, tokenRoute) }],
    [INTROSPECTION_PATH, { POST: (request, response) => handleIntrospection(request, response, options) }],
    [REVOCATION_PATH, { POST: (request, response) => handleRevocation(request, response, options) }],
    [JWKS_PATH, { GET: sendKeys }],
    ["/.well-known/jwks.json", { GET: sendKeys }],
    ["/.well-known/oauth-authorization-server", { GET: sendMetadata }],
    ["/.well-known/openid-configuration", { GET: sendMetadata }],
    [
      "/metrics",
      {
        GET: async (_request, response) => {
          const { contentType, body } = await options.metrics.render();
          writeHead(response, 200, { "content-type": contentType, "cache-control": "no-store" });
          response.end(body);
        },
      },
    ],
    ["/healthz", { GET: (_request, response) => sendJson(response, 200, { status: "ok" }, { "cache-control": "no-store" }) }],
    [
      "/readyz",
      {
        GET: async (_request, response) => {
          const { ready, checks } = await options.readiness.check();
          sendJson(response, ready ? 200 : 503, { status: ready ? "ready" : "not_ready", checks }, { "cache-control": "no-store" });
        },
      },
    ],
  ]);
  if (options.issuerPath !== "" && options.issuerPath !== "/") {
    routes.set(`/.well-known/oauth-authorization-server${options.issuerPath.replace(/\/+$/, "")}`, { GET: sendMetadata });
  }

  // Span names and attributes are fixed per route and method: made once, not per request.
  const spans = new Map<Route, Partial<Record<Method, SpanNaming>>>();
  for (const [path, route] of routes) {
    const named: Partial<Record<Method, SpanNaming>> = {};
    for (const method of Object.keys(route) as Method[]) {
      named[method] = { name: `${method} ${path}`, attributes: { "http.request.method": method, "url.path": path } };
    }
    spans.set(route, named);
  }
  // The level is fixed at start, so the per-request line is skipped without building it.
  const logRequests = log.isLevelEnabled("info");

  return (request, response) => {
    const started = performance.now();
    const requestId = requestIdFrom(request.headers[REQUEST_ID_HEADER]);
    setRequestId(response, requestId);
    const url = request.url ?? "/";
    const queryAt = url.indexOf("?");
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    const method = request.method === "HEAD" ? "GET" : request.method;
    const route = routes.get(path);
    // Own properties only: a method named "constructor" or "toString" must not find Object's.
    const handler = route && Object.hasOwn(route, method ?? "") ? route[method as Method] : undefined;

    response.on("finish", () => {
      const ms = performance.now() - started;
      options.metrics.httpRequest(route ? path : "unmatched", request.method ?? "", response.statusCode, ms / 1000);
      if (logRequests) log.info({ requestId, method: request.method, path, status: response.statusCode, ms }, "http request");
    });
    if (!route) {
      sendJson(response, 404, { error: "not_found", error_description: `no route for ${path.slice(0, 100)}` });
      return;
    }
    if (!handler) {
      sendJson(
        response,
        405,
        { error: "invalid_request", error_description: `method ${request.method} not allowed` },
        { allow: Object.keys(route).join(", ") },
      );
      return;
    }
    const span = spans.get(route)![method as Method]!;
    inServerSpan(span.name, span.attributes, () => settled(handler, request, response))
      .catch((error: unknown) => {
        if (error instanceof RequestAbortedError) {
          // The caller left mid-request: nothing to answer, nothing wrong here. Not counted as
          // a request either, as no answer was finished.
          log.debug({ requestId, path, reason: error.message }, "http request aborted by the client");
          response.destroy();
          return;
        }
        if (error instanceof TesseraError && AUTH_FAILURE_CODES.has(error.code)) options.metrics.authFailure(error.code);
        // A child logger only on the error path: creating one per request costs the hot path.
        sendOAuthError(response, error, log.child({ requestId }));
      });
  };
}
