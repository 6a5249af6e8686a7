/**
 * Typed Connect clients for Tessera's RPC API (the generated service definitions, re-exported),
 * over one HTTP/2 connection: h2c for an `http:` base URL, TLS for `https:`. Introspection and
 * admin calls carry the token source's Bearer token (`tessera:introspect`, `tessera:admin`, …).
 */
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { Http2SessionManager, createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import type { SecureClientSessionOptions } from "node:http2";
import { ClientAdminService } from "../gen/tessera/v1/client_admin_service_pb.js";
import { IntrospectionService } from "../gen/tessera/v1/introspection_service_pb.js";
import { TokenService } from "../gen/tessera/v1/token_service_pb.js";
import { bearerInterceptor } from "./authorization.js";
import type { TokenSelection, TokenSource } from "./token-source.js";

export { ClientAdminService, IntrospectionService, TokenService };

export interface TesseraClientsOptions {
  /** Tessera's address, e.g. `http://tessera.internal:8080` (h2c) or `https://tessera.internal` (TLS). */
  readonly baseUrl: string;
  /** `grpc` (default) or `connect` (the Connect protocol, HTTP/2). */
  readonly protocol?: "grpc" | "connect";
  /** TLS settings (e.g. `ca`, or a client certificate for mTLS). */
  readonly nodeOptions?: SecureClientSessionOptions;
  /** The token source for introspection and admin calls. */
  readonly tokenSource?: TokenSource;
  /** Which token those calls carry, if not the source's default. */
  readonly tokenSelection?: TokenSelection;
  /** Per call. Default 10000. */
  readonly timeoutMs?: number;
  /** More interceptors, run before the one that attaches the token. */
  readonly interceptors?: readonly Interceptor[];
}

export interface TesseraClients {
  readonly tokens: Client<typeof TokenService>;
  readonly introspection: Client<typeof IntrospectionService>;
  readonly admin: Client<typeof ClientAdminService>;
  /** Closes the shared connection. */
  close(): void;
}

export function createTesseraClients(options: TesseraClientsOptions): TesseraClients {
  const sessionManager = new Http2SessionManager(options.baseUrl, undefined, options.nodeOptions);
  const transportWith = (interceptors: Interceptor[]): Transport => {
    const settings = { baseUrl: options.baseUrl, sessionManager, interceptors, defaultTimeoutMs: options.timeoutMs ?? 10_000 };
    return options.protocol === "connect" ? createConnectTransport({ ...settings, httpVersion: "2" }) : createGrpcTransport(settings);
  };
  const plain = transportWith([...(options.interceptors ?? [])]);
  const authenticated = options.tokenSource
    ? transportWith([...(options.interceptors ?? []), bearerInterceptor(options.tokenSource, options.tokenSelection)])
    : plain;
  return {
    // IssueToken authenticates with the client's own credentials in the message, never a Bearer token.
    tokens: createClient(TokenService, plain),
    introspection: createClient(IntrospectionService, authenticated),
    admin: createClient(ClientAdminService, authenticated),
    close: () => sessionManager.abort(),
  };
}
