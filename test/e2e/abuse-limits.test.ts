/**
 * Abuse limits: a budget per address for failed and unauthenticated requests, a budget per client
 * for authenticated ones (with per-client overrides), and a backoff after repeated failed
 * authentications — scoped to the guessing address so nobody can lock a client out from
 * elsewhere, capped, and forgotten after a quiet spell. The caller's address is the peer's, or
 * what a trusted proxy (TESSERA_TRUSTED_PROXIES) forwarded. Refusals are 429 with Retry-After,
 * RESOURCE_EXHAUSTED over gRPC, and show in /metrics.
 */
import http from "node:http";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenService } from "../../src/gen/tessera/v1/token_service_pb.js";
import { registerClient, type RegisteredClient } from "../support/clients.js";
import { basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";

interface Answer {
  status: number;
  retryAfter?: string;
  body: Record<string, unknown>;
}

/** POST /oauth/token from a chosen loopback address (127.0.0.0/8 all reach 127.0.0.1). */
function tokenFrom(server: TestServer, localAddress: string, who: RegisteredClient | undefined, headers: Record<string, string> = {}): Promise<Answer> {
  return postFrom(server, localAddress, "/oauth/token", "grant_type=client_credentials", {
    ...(who ? { authorization: basicAuthorization(who.clientId, who.clientSecret) } : {}),
    ...headers,
  });
}

function postFrom(server: TestServer, localAddress: string, path: string, body: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: "127.0.0.1",
        port: server.port,
        path,
        method: "POST",
        localAddress,
        headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      },
      (response) => {
        let text = "";
        response.on("data", (chunk) => (text += chunk));
        response.on("end", () => resolve({ status: response.statusCode!, retryAfter: response.headers["retry-after"], body: JSON.parse(text) as Record<string, unknown> }));
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("failed-authentication backoff", () => {
  let server: TestServer;
  let client: RegisteredClient;
  beforeAll(async () => {
    server = await startTestServer({ storage: "embedded", env: { TESSERA_LOCKOUT_THRESHOLD: "3", TESSERA_LOCKOUT_MAX: "2s" } });
    client = await registerClient(server, { name: "guarded", scopes: ["s"] });
  });
  afterAll(async () => server?.destroy());

  it("makes the guessing address wait, whatever the secret, without locking out the client elsewhere", async () => {
    const wrong = { clientId: client.clientId, clientSecret: "guess" };
    for (let i = 0; i < 3; i++) expect((await tokenFrom(server, "127.0.0.1", wrong)).status).toBe(401);
    const locked = await tokenFrom(server, "127.0.0.1", client);
    expect(locked).toMatchObject({ status: 429, body: { error: "too_many_requests" } });
    expect(Number(locked.retryAfter)).toBeGreaterThanOrEqual(1);
    // The real client, calling from its own address, is not affected.
    expect((await tokenFrom(server, "127.0.0.2", client)).status).toBe(200);
    // After the wait the right secret works again and clears the count.
    await sleep(Number(locked.retryAfter) * 1000 + 100);
    expect((await tokenFrom(server, "127.0.0.1", client)).status).toBe(200);
    expect((await tokenFrom(server, "127.0.0.1", wrong)).status).toBe(401);
  });

  it("doubles the wait with every further failure, up to TESSERA_LOCKOUT_MAX", async () => {
    const wrong = { clientId: client.clientId, clientSecret: "guess" };
    for (let i = 0; i < 3; i++) await tokenFrom(server, "127.0.0.3", wrong);
    const first = Number((await tokenFrom(server, "127.0.0.3", wrong)).retryAfter);
    await sleep(first * 1000 + 100);
    await tokenFrom(server, "127.0.0.3", wrong);
    const second = Number((await tokenFrom(server, "127.0.0.3", wrong)).retryAfter);
    expect(second).toBeGreaterThan(first);
    await sleep(second * 1000 + 100);
    await tokenFrom(server, "127.0.0.3", wrong);
    // 1 s, 2 s, then capped at 2 s rather than 4 s.
    expect(Number((await tokenFrom(server, "127.0.0.3", wrong)).retryAfter)).toBeLessThanOrEqual(2);
  });

  it("forgets the failures of an address that stayed quiet for TESSERA_LOCKOUT_MAX after its wait", async () => {
    const wrong = { clientId: client.clientId, clientSecret: "guess" };
    for (let i = 0; i < 3; i++) await tokenFrom(server, "127.0.0.4", wrong);
    const locked = await tokenFrom(server, "127.0.0.4", wrong);
    expect(locked.status).toBe(429);
    await sleep(Number(locked.retryAfter) * 1000 + 2_100);
    // The count starts again: one failure is answered, not refused.
    expect((await tokenFrom(server, "127.0.0.4", wrong)).status).toBe(401);
    expect((await tokenFrom(server, "127.0.0.4", client)).status).toBe(200);
  });
});

describe("rate limits", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ storage: "embedded", env: { TESSERA_RATE_LIMIT_PER_IP: "20" } });
  });
  afterAll(async () => server?.destroy());

  it("limit a client to its own override, over HTTP and gRPC", async () => {
    const slow = await registerClient(server, { name: "slow", scopes: ["s"], rateLimitPerSecond: 2 });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await tokenFrom(server, "127.0.0.4", slow)).status);
    expect(statuses.slice(0, 4)).toEqual([200, 200, 200, 200]);
    expect(statuses).toContain(429);
    const grpcError = await createClient(TokenService, createGrpcTransport({ baseUrl: server.url }))
      .issueToken({ clientId: slow.clientId, credential: { case: "clientSecret", value: slow.clientSecret } })
      .catch((error: unknown) => error);
    expect((grpcError as ConnectError).code).toBe(Code.ResourceExhausted);
  });

  it("do not count authenticated requests against their address: a busy client is governed by its own limit", async () => {
    const busy = await registerClient(server, { name: "busy", scopes: ["s"] });
    // Three times the address's burst (2 × 20), all from one address.
    const results = await Promise.all(Array.from({ length: 120 }, () => tokenFrom(server, "127.0.0.6", busy)));
    expect(results.map((result) => result.status).filter((status) => status !== 200)).toEqual([]);
    const token = results[0]!.body.access_token as string;
    const introspections = await Promise.all(
      Array.from({ length: 60 }, () =>
        postFrom(server, "127.0.0.6", "/oauth/introspect", new URLSearchParams({ token }).toString(), { authorization: basicAuthorization(busy.clientId, busy.clientSecret) }),
      ),
    );
    expect(introspections.map((result) => result.status).filter((status) => status !== 200)).toEqual([]);
  });

  it("limit an address by its failed and unauthenticated requests, and count refusals in /metrics", async () => {
    const client = await registerClient(server, { name: "flooder", scopes: ["s"] });
    const wrong = { clientId: client.clientId, clientSecret: "not-the-secret" };
    const results = await Promise.all([
      ...Array.from({ length: 30 }, () => tokenFrom(server, "127.0.0.5", wrong)),
      ...Array.from({ length: 30 }, () => tokenFrom(server, "127.0.0.5", undefined)),
    ]);
    const limited = results.filter((result) => result.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]!.retryAfter).toMatch(/^\d+$/);
    expect(results.every((result) => result.status === 401 || result.status === 429)).toBe(true);
    // Spent on failures, the budget refuses the address until it refills, whatever the credentials.
    expect((await tokenFrom(server, "127.0.0.5", client)).status).toBe(429);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/tessera_rate_limited_total\{limit="ip"\} [1-9]/);
    expect(metrics).toMatch(/tessera_rate_limited_total\{limit="client"\} [1-9]/);
    expect(metrics).toMatch(/tessera_tokens_issued_total\{client_id="[^"]+",alg="RS256",grant_type="client_credentials"\} [1-9]/);
    expect(metrics).toMatch(/tessera_http_requests_total\{route="\/oauth\/token",method="POST",status="429"\}/);
    expect(metrics).toMatch(/tessera_clients_cached [1-9]/);
    expect(metrics).toMatch(/tessera_database_up 1/);
  });
});

describe("the caller's address behind trusted proxies (TESSERA_TRUSTED_PROXIES)", () => {
  let server: TestServer;
  let client: RegisteredClient;
  beforeAll(async () => {
    server = await startTestServer({ storage: "embedded", env: { TESSERA_LOCKOUT_THRESHOLD: "3", TESSERA_TRUSTED_PROXIES: "127.0.0.1/32, ::1" } });
    client = await registerClient(server, { name: "behind-a-proxy", scopes: ["s"] });
  });
  afterAll(async () => server?.destroy());

  const wrong = () => ({ clientId: client.clientId, clientSecret: "guess" });
  const issueOverConnect = (forwardedFor: string, secret: string) =>
    fetch(`${server.url}/tessera.v1.TokenService/IssueToken`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-forwarded-for": forwardedFor },
      body: JSON.stringify({ clientId: client.clientId, clientSecret: secret }),
    });

  it("believes X-Forwarded-For from a trusted proxy: the guesser behind it waits, other callers behind it do not, over HTTP and Connect", async () => {
    for (let i = 0; i < 3; i++) expect((await tokenFrom(server, "127.0.0.1", wrong(), { "x-forwarded-for": "203.0.113.7" })).status).toBe(401);
    expect((await tokenFrom(server, "127.0.0.1", client, { "x-forwarded-for": "203.0.113.7" })).status).toBe(429);
    expect((await issueOverConnect("203.0.113.7", client.clientSecret)).status).toBe(429);
    expect((await tokenFrom(server, "127.0.0.1", client, { "x-forwarded-for": "203.0.113.8" })).status).toBe(200);
    expect((await issueOverConnect("203.0.113.9", client.clientSecret)).status).toBe(200);
  });

  it("takes the right-most address that is not a trusted proxy, so a caller cannot write its way out", async () => {
    for (let i = 0; i < 3; i++) {
      const answer = await tokenFrom(server, "127.0.0.1", wrong(), { "x-forwarded-for": `198.51.100.${i}, 203.0.113.20, 127.0.0.1` });
      expect(answer.status).toBe(401);
    }
    expect((await tokenFrom(server, "127.0.0.1", client, { "x-forwarded-for": "198.51.100.99, 203.0.113.20" })).status).toBe(429);
    expect((await issueOverConnect("not-an-address, 203.0.113.20", client.clientSecret)).status).toBe(429);
  });

  it("ignores forwarding headers from peers that are not trusted proxies", async () => {
    for (let i = 0; i < 3; i++) expect((await tokenFrom(server, "127.0.0.3", wrong(), { "x-forwarded-for": `203.0.113.${30 + i}` })).status).toBe(401);
    expect((await tokenFrom(server, "127.0.0.3", client, { "x-forwarded-for": "203.0.113.99" })).status).toBe(429);
    // The same caller reached through the trusted proxy is the same address, and waits too.
    expect((await tokenFrom(server, "127.0.0.1", client, { "x-forwarded-for": "127.0.0.3" })).status).toBe(429);
    expect((await tokenFrom(server, "127.0.0.1", client, { "x-forwarded-for": "127.0.0.4" })).status).toBe(200);
  });
});
