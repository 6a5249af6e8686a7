/**
 * Local web servers standing in for an identity provider's discovery document, JWKS or SPIFFE
 * bundle endpoint. HTTPS servers present a certificate for 127.0.0.1 signed by the test CA
 * (test/support/test-ca/), which every test worker trusts through NODE_EXTRA_CA_CERTS
 * (vitest.config.ts), as an operator would make Tessera trust a development cluster's CA.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";

const TEST_CA_DIR = new URL("./test-ca/", import.meta.url);

export const TEST_CA_CERT_PATH = new URL("ca.pem", TEST_CA_DIR).pathname;

export type FakeRoute = (request: http.IncomingMessage, response: http.ServerResponse) => void;

export interface FakeServer {
  /** `https://127.0.0.1:<port>` (or http:// for a plain server), without a trailing slash. */
  readonly origin: string;
  /** Requests received, by path. */
  readonly hits: Map<string, number>;
  /** Sets (or replaces) what a path answers. */
  route(path: string, handler: FakeRoute): void;
  /** Answers JSON with an optional Cache-Control. */
  json(path: string, body: unknown, cacheControl?: string): void;
  hitsOf(path: string): number;
  /** Stops answering: every request is cut (connection reset), as when the issuer is down. */
  down(): void;
  up(): void;
  close(): Promise<void>;
}

export async function startFakeServer(options: { tls?: boolean } = {}): Promise<FakeServer> {
  const routes = new Map<string, FakeRoute>();
  const hits = new Map<string, number>();
  let isDown = false;
  const handler = (request: http.IncomingMessage, response: http.ServerResponse) => {
    const path = new URL(request.url ?? "/", "http://x").pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (isDown) {
      request.socket.destroy();
      return;
    }
    const route = routes.get(path);
    if (!route) {
      response.writeHead(404).end();
      return;
    }
    route(request, response);
  };
  const server =
    options.tls === false
      ? http.createServer(handler)
      : https.createServer(
          { cert: readFileSync(new URL("server.pem", TEST_CA_DIR)), key: readFileSync(new URL("server-key.pem", TEST_CA_DIR)) },
          handler,
        );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `${options.tls === false ? "http" : "https"}://127.0.0.1:${port}`,
    hits,
    route: (path, route) => void routes.set(path, route),
    json(path, body, cacheControl) {
      routes.set(path, (_request, response) => {
        response.writeHead(200, { "content-type": "application/json", ...(cacheControl ? { "cache-control": cacheControl } : {}) });
        response.end(JSON.stringify(body));
      });
    },
    hitsOf: (path) => hits.get(path) ?? 0,
    down: () => void (isDown = true),
    up: () => void (isDown = false),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
