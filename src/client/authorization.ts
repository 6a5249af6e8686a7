/**
 * Attaching the source's current token to outgoing calls: a fetch (or undici fetch) wrapper for
 * HTTP, and a Connect interceptor for gRPC, gRPC-Web and Connect calls (RFC 6750 §2.1).
 */
import type { Interceptor } from "@connectrpc/connect";
import type { TokenSelection, TokenSource } from "./token-source.js";

/**
 * A fetch that sets `authorization` on every request from the source (keeping other headers).
 *
 *     const api = authorizedFetch(source);
 *     await api("https://payments.internal/v1/charges");
 */
export function authorizedFetch(source: TokenSource, options: TokenSelection & { readonly fetch?: typeof fetch } = {}): typeof fetch {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  return async (input, init) => {
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.set("authorization", await source.authorization(options));
    return fetchImpl(input, { ...init, headers });
  };
}

/**
 * A Connect interceptor that sets `authorization` on every outgoing call.
 *
 *     createGrpcTransport({ baseUrl, interceptors: [bearerInterceptor(source)] });
 */
export function bearerInterceptor(source: TokenSource, selection: TokenSelection = {}): Interceptor {
  return (next) => async (request) => {
    request.header.set("authorization", await source.authorization(selection));
    return next(request);
  };
}
