/**
 * tessera/client against a real Tessera: one token request however many callers ask at once,
 * renewal ahead of expiry, the still-valid token kept in service through an outage, refusals
 * surfacing at once with their OAuth code, over HTTP and over gRPC. Requests are counted by the
 * server (its /metrics), not by the client.
 */
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { decodeJwt, exportJWK, generateKeyPair } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IntrospectionService, TokenError, authorizedFetch, bearerInterceptor, createTesseraClients, createTokenSource, type TokenSource } from "tessera/client";
import { adminApi, registerClient, type RegisteredClient } from "../support/clients.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";
import { ADMIN_CLIENT, startTestServer, type TestServer } from "../support/test-server.js";

const RESOURCE = "payments-api";

let server: TestServer;
let worker: RegisteredClient;
let blinker: RegisteredClient;
const sources: TokenSource[] = [];

/** A token source closed after the tests. */
function source(options: Parameters<typeof createTokenSource>[0]): TokenSource {
  const created = createTokenSource(options);
  sources.push(created);
  return created;
}

async function metrics(): Promise<string> {
  const response = await fetch(`${server.url}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

/** The value of one sample line, e.g. `name{a="b"}`; 0 when the line is absent. */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const issuedFor = (clientId: string) => `tessera_tokens_issued_total{client_id="${clientId}",alg="RS256",grant_type="client_credentials"}`;
const TOKEN_401 = 'tessera_http_requests_total{route="/oauth/token",method="POST",status="401"}';
const ISSUE_TOKEN_UNAUTHENTICATED = 'tessera_rpc_requests_total{rpc="tessera.v1.TokenService/IssueToken",code="Unauthenticated"}';

/** How much each series grew while `action` ran. */
async function counting<T>(series: readonly string[], action: () => Promise<T>): Promise<{ result: T; deltas: number[] }> {
  const before = await metrics();
  const result = await action();
  const after = await metrics();
  return { result, deltas: series.map((name) => sample(after, name) - sample(before, name)) };
}

/** A clock the test moves; the server keeps real time. */
function fakeClock() {
  let time = Date.now();
  return { now: () => time, advance: (ms: number) => void (time += ms) };
}

beforeAll(async () => {
  server = await startTestServer({ storage: "embedded" });
  worker = await registerClient(server, { name: "worker", scopes: ["pay:read", "pay:write"], audiences: [RESOURCE] });
  // Five-second tokens: renewal is due after 3.75 s (no jitter below), handing out stops at 4.5 s.
  blinker = await registerClient(server, { name: "blinker", scopes: ["pay:read"], audiences: [RESOURCE], tokenLifetime: { seconds: 5n } });
});
afterAll(async () => {
  for (const created of sources) created.close();
  await server?.destroy();
});

describe("createTokenSource over HTTP, found through the issuer's metadata", () => {
  it("answers 1,000 concurrent getToken() calls with one token request and one token", async () => {
    const tokens = source({ issuer: server.config.issuer, clientId: worker.clientId, clientSecret: worker.clientSecret, scopes: ["pay:read"], audience: RESOURCE });
    const { result, deltas } = await counting([issuedFor(worker.clientId)], () => Promise.all(Array.from({ length: 1000 }, () => tokens.getToken())));
    expect(deltas).toEqual([1]);
    expect(new Set(result).size).toBe(1);
    expect(decodeJwt(result[0]!)).toMatchObject({ sub: worker.clientId, aud: RESOURCE, scope: "pay:read", iss: server.config.issuer });
    // Cached: later callers get the same token without a request.
    const again = await counting([issuedFor(worker.clientId)], () => tokens.getToken());
    expect(again).toEqual({ result: result[0], deltas: [0] });
  });

  it("keeps one token per (scopes, audience)", async () => {
    const tokens = source({ issuer: server.config.issuer, clientId: worker.clientId, clientSecret: worker.clientSecret, audience: RESOURCE });
    const { result, deltas } = await counting([issuedFor(worker.clientId)], async () => [
      await tokens.getToken({ scopes: ["pay:read"] }),
      await tokens.getToken({ scopes: ["pay:write"] }),
      await tokens.getToken({ scopes: ["pay:write", "pay:read"] }),
      await tokens.getToken({ scopes: ["pay:read", "pay:write"] }),
    ]);
    expect(deltas).toEqual([3]);
    expect(result.map((token) => decodeJwt(token).scope)).toEqual(["pay:read", "pay:write", "pay:read pay:write", "pay:read pay:write"]);
    expect(result[2]).toBe(result[3]);
  });

  it("renews a token ahead of its expiry: the old one is served while the renewal runs, the new one after", async () => {
    const clock = fakeClock();
    const tokens = source({ issuer: server.config.issuer, clientId: blinker.clientId, clientSecret: blinker.clientSecret, now: clock.now, random: () => 0.5 });
    const first = await tokens.getIssuedToken();
    expect(first.expiresIn).toBe(5);

    const { result, deltas } = await counting([issuedFor(blinker.clientId)], async () => {
      clock.advance(3_900); // past the renewal point, before the hand-out limit
      const during = await tokens.getToken();
      clock.advance(700); // past the hand-out limit: callers wait for the renewal already under way
      const after = await tokens.getToken();
      return { during, after };
    });
    expect(result.during).toBe(first.accessToken);
    expect(result.after).not.toBe(first.accessToken);
    expect(decodeJwt(result.after).jti).not.toBe(decodeJwt(first.accessToken).jti);
    expect(deltas).toEqual([1]);
  });

  it("keeps serving the still-valid token while the issuer is down, and renews once it is back", async () => {
    const proxy: TcpProxy = await startTcpProxy({ host: "127.0.0.1", port: server.port });
    try {
      const clock = fakeClock();
      const failures: TokenError[] = [];
      let failed!: () => void;
      const firstFailure = new Promise<void>((resolve) => (failed = resolve));
      const tokens = source({
        issuer: server.config.issuer,
        tokenEndpoint: `http://127.0.0.1:${proxy.port}/oauth/token`,
        clientId: blinker.clientId,
        clientSecret: blinker.clientSecret,
        retry: { attempts: 3, initialDelayMs: 1 },
        now: clock.now,
        random: () => 0.5,
        onError: (error) => {
          failures.push(error);
          failed();
        },
      });
      const first = await tokens.getToken();

      proxy.cut();
      clock.advance(3_900);
      expect(await tokens.getToken()).toBe(first); // renewal started in the background
      await firstFailure; // …and failed after its retries
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatchObject({ error: "temporarily_unavailable", reason: "unreachable" });
      expect(await tokens.getToken()).toBe(first); // still valid, still served

      proxy.restore();
      clock.advance(700);
      const recovered = await tokens.getToken();
      expect(recovered).not.toBe(first);
      expect(decodeJwt(recovered).sub).toBe(blinker.clientId);
      expect(failures).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });

  it("retries a 503 with backoff and gets the token once the issuer answers", async () => {
    // In front of the token endpoint: the first two requests get the answer of an overloaded server.
    let seen = 0;
    const front = createServer((request, response) => {
      seen += 1;
      if (seen <= 2) {
        response.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ error: "temporarily_unavailable" }));
        return;
      }
      const upstream = httpRequest({ host: "127.0.0.1", port: server.port, path: request.url, method: request.method, headers: request.headers }, (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      });
      request.pipe(upstream);
    });
    await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = front.address() as AddressInfo;
      const tokens = source({ tokenEndpoint: `http://127.0.0.1:${port}/oauth/token`, clientId: worker.clientId, clientSecret: worker.clientSecret, retry: { attempts: 3, initialDelayMs: 1 } });
      const { result, deltas } = await counting([issuedFor(worker.clientId)], () => tokens.getToken());
      expect(decodeJwt(result).sub).toBe(worker.clientId);
      expect(deltas).toEqual([1]);
      expect(seen).toBe(3);

      // With attempts exhausted, the last failure surfaces with its OAuth code.
      seen = 0;
      const once = source({ tokenEndpoint: `http://127.0.0.1:${port}/oauth/token`, clientId: worker.clientId, clientSecret: worker.clientSecret, retry: { attempts: 2, initialDelayMs: 1 } });
      await expect(once.getToken()).rejects.toMatchObject({ error: "temporarily_unavailable", reason: "refused", status: 503, retryable: true });
      expect(seen).toBe(2);
    } finally {
      front.closeAllConnections();
      await new Promise((resolve) => front.close(resolve));
    }
  });

  it("keeps serving the still-valid token when a renewal is refused, and reports the refusal", async () => {
    const clock = fakeClock();
    const refusals: TokenError[] = [];
    let secret = blinker.clientSecret;
    let refused!: () => void;
    const reported = new Promise<void>((resolve) => (refused = resolve));
    // The secret is read per request, as a rotated secret would be: here it goes wrong.
    const rotating: typeof fetch = async (input, init) => {
      const headers = new Headers(init?.headers);
      if (secret !== blinker.clientSecret) headers.set("authorization", `Basic ${Buffer.from(`${blinker.clientId}:${secret}`).toString("base64")}`);
      return fetch(input, { ...init, headers });
    };
    const tokens = source({
      issuer: server.config.issuer,
      clientId: blinker.clientId,
      clientSecret: blinker.clientSecret,
      fetch: rotating,
      now: clock.now,
      random: () => 0.5,
      onError: (error) => {
        refusals.push(error);
        refused();
      },
    });
    const first = await tokens.getToken();
    secret = "a-secret-that-no-longer-works-0123456789";
    const { deltas } = await counting([TOKEN_401], async () => {
      clock.advance(3_900);
      expect(await tokens.getToken()).toBe(first);
      await reported;
    });
    expect(deltas).toEqual([1]); // refused once, not retried
    expect(refusals.map((error) => error.error)).toEqual(["invalid_client"]);
    expect(await tokens.getToken()).toBe(first);
  });

  it("rejects with error invalid_client at once, after one request, for every caller waiting", async () => {
    const tokens = source({ issuer: server.config.issuer, clientId: worker.clientId, clientSecret: "not-the-secret-of-this-client-0123456789" });
    const { result, deltas } = await counting([TOKEN_401], () => Promise.allSettled(Array.from({ length: 20 }, () => tokens.getToken())));
    expect(deltas).toEqual([1]);
    for (const outcome of result) {
      expect(outcome.status).toBe("rejected");
      const error = (outcome as PromiseRejectedResult).reason as TokenError;
      expect(error).toBeInstanceOf(TokenError);
      expect(error).toMatchObject({ error: "invalid_client", reason: "refused", status: 401, retryable: false });
    }
  });

  it("rejects with error invalid_scope, not retried, for a scope the client may not have", async () => {
    const tokens = source({ issuer: server.config.issuer, clientId: worker.clientId, clientSecret: worker.clientSecret, scopes: ["admin:everything"] });
    await expect(tokens.getToken()).rejects.toMatchObject({ error: "invalid_scope", retryable: false });
  });

  it("authenticates with private_key_jwt, the assertion's audience being the issuer from the metadata", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
    const publicJwk = { ...(await exportJWK(publicKey)), kid: "sdk-key", alg: "ES256", use: "sig" };
    const admin = { headers: { authorization: `Bearer ${await server.adminToken()}` } };
    const created = await adminApi(server).createClient({ name: "keyed", scopes: ["pay:read"], jwks: { keys: [publicJwk] } as never }, admin);
    const clientId = created.client!.clientId;
    const assertions: string[] = [];
    const recording: typeof fetch = async (input, init) => {
      if (init?.body instanceof URLSearchParams) assertions.push(init.body.get("client_assertion") ?? "");
      return fetch(input, init);
    };
    const tokens = source({ issuer: server.config.issuer, clientId, privateKey: { key: privateKey, keyId: "sdk-key" }, scopes: ["pay:read"], fetch: recording });
    expect(decodeJwt(await tokens.getToken())).toMatchObject({ sub: clientId, scope: "pay:read" });
    expect(assertions).toHaveLength(1);
    expect(decodeJwt(assertions[0]!)).toMatchObject({ iss: clientId, sub: clientId, aud: server.config.issuer });
  });

  it("attaches the token to fetch calls", async () => {
    const tokens = source({ issuer: server.config.issuer, clientId: ADMIN_CLIENT.clientId, clientSecret: ADMIN_CLIENT.clientSecret, scopes: ["tessera:introspect"] });
    const workerToken = await source({ issuer: server.config.issuer, clientId: worker.clientId, clientSecret: worker.clientSecret }).getToken();
    const introspecting = authorizedFetch(tokens);
    const response = await introspecting(`${server.url}/oauth/introspect`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: workerToken }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ active: true, client_id: worker.clientId });
  });
});

describe("createTokenSource over gRPC (TokenService.IssueToken)", () => {
  it("answers 1,000 concurrent getToken() calls with one IssueToken call", async () => {
    const tokens = source({ issuer: server.config.issuer, transport: "grpc", clientId: worker.clientId, clientSecret: worker.clientSecret, scopes: ["pay:write"] });
    const { result, deltas } = await counting([issuedFor(worker.clientId)], () => Promise.all(Array.from({ length: 1000 }, () => tokens.getToken())));
    expect(deltas).toEqual([1]);
    expect(new Set(result).size).toBe(1);
    expect(decodeJwt(result[0]!)).toMatchObject({ sub: worker.clientId, scope: "pay:write" });
  });

  it("rejects with error invalid_client (from the RPC's OAuth error detail) after one call", async () => {
    const tokens = source({ tokenEndpoint: `${server.url}/oauth/token`, transport: "grpc", clientId: worker.clientId, clientSecret: "wrong-secret-wrong-secret-wrong-secret" });
    const { result, deltas } = await counting([ISSUE_TOKEN_UNAUTHENTICATED], () => tokens.getToken().catch((error: unknown) => error));
    expect(deltas).toEqual([1]);
    expect(result).toBeInstanceOf(TokenError);
    expect(result).toMatchObject({ error: "invalid_client", reason: "refused" });
  });
});

describe("bearerInterceptor and createTesseraClients", () => {
  it("authenticates a gRPC call to AuthenticateToken with the source's token, which is refused without it", async () => {
    const introspector = source({ issuer: server.config.issuer, clientId: ADMIN_CLIENT.clientId, clientSecret: ADMIN_CLIENT.clientSecret, scopes: ["tessera:introspect"] });
    const workerToken = await source({ issuer: server.config.issuer, clientId: worker.clientId, clientSecret: worker.clientSecret }).getToken();

    const withToken = createClient(IntrospectionService, createGrpcTransport({ baseUrl: server.url, interceptors: [bearerInterceptor(introspector)] }));
    const answer = await withToken.authenticateToken({ token: workerToken, requiredScopes: ["pay:read"], requiredAudience: RESOURCE });
    expect(answer).toMatchObject({ clientId: worker.clientId, audiences: [RESOURCE] });

    const withoutToken = createClient(IntrospectionService, createGrpcTransport({ baseUrl: server.url }));
    const refused = await withoutToken.authenticateToken({ token: workerToken }).catch((error: unknown) => error);
    expect(ConnectError.from(refused).code).toBe(Code.Unauthenticated);
  });

  it("gives typed clients for the three services over one h2c connection, admin calls carrying the source's token", async () => {
    const admin = source({ issuer: server.config.issuer, clientId: ADMIN_CLIENT.clientId, clientSecret: ADMIN_CLIENT.clientSecret });
    const clients = createTesseraClients({ baseUrl: server.url, tokenSource: admin });
    try {
      const issued = await clients.tokens.issueToken({ clientId: worker.clientId, credential: { case: "clientSecret", value: worker.clientSecret } });
      const checked = await clients.introspection.authenticateToken({ token: issued.accessToken });
      expect(checked.clientId).toBe(worker.clientId);
      const shown = await clients.admin.getClient({ clientId: worker.clientId });
      expect(shown.client?.name).toBe("worker");
    } finally {
      clients.close();
    }
  });
});
