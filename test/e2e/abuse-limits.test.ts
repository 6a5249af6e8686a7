/**
 * Abuse limits: token buckets per address and per client (with per-client overrides), and the
 * lockout after repeated failed authentications — scoped to the guessing address so nobody can
 * lock a client out from elsewhere. Refusals are 429 with Retry-After, RESOURCE_EXHAUSTED over
 * gRPC, and show in /metrics.
 */
import http from "node:http";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenService } from "../../src/gen/tessera/v1/token_service_pb.js";
import { registerClient, type RegisteredClient } from "../support/clients.js";
import { basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";

/** POST /oauth/token from a chosen loopback address (127.0.0.0/8 all reach 127.0.0.1). */
function tokenFrom(server: TestServer, localAddress: string, who: RegisteredClient): Promise<{ status: number; retryAfter?: string; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: "127.0.0.1",
        port: server.port,
        path: "/oauth/token",
        method: "POST",
        localAddress,
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(who.clientId, who.clientSecret) },
      },
      (response) => {
        let text = "";
        response.on("data", (chunk) => (text += chunk));
        response.on("end", () => resolve({ status: response.statusCode!, retryAfter: response.headers["retry-after"], body: JSON.parse(text) as Record<string, unknown> }));
      },
    );
    request.on("error", reject);
    request.end("grant_type=client_credentials");
  });
}

describe("failed-authentication lockout", () => {
  let server: TestServer;
  let client: RegisteredClient;
  beforeAll(async () => {
    server = await startTestServer({ storage: "embedded", env: { TESSERA_LOCKOUT_THRESHOLD: "3" } });
    client = await registerClient(server, { name: "guarded", scopes: ["s"] });
  });
  afterAll(async () => server?.destroy());

  it("locks the guessing address out, whatever the secret, without locking out the client elsewhere", async () => {
    const wrong = { clientId: client.clientId, clientSecret: "guess" };
    for (let i = 0; i < 3; i++) expect((await tokenFrom(server, "127.0.0.1", wrong)).status).toBe(401);
    const locked = await tokenFrom(server, "127.0.0.1", client);
    expect(locked).toMatchObject({ status: 429, body: { error: "too_many_requests" } });
    expect(Number(locked.retryAfter)).toBeGreaterThanOrEqual(1);
    // The real client, calling from its own address, is not affected.
    expect((await tokenFrom(server, "127.0.0.2", client)).status).toBe(200);
    // After the lockout window the right secret works again and clears the count.
    await new Promise((resolve) => setTimeout(resolve, Number(locked.retryAfter) * 1000 + 100));
    expect((await tokenFrom(server, "127.0.0.1", client)).status).toBe(200);
  });

  it("doubles the lockout with every further failure", async () => {
    const wrong = { clientId: client.clientId, clientSecret: "guess" };
    for (let i = 0; i < 3; i++) await tokenFrom(server, "127.0.0.3", wrong);
    const first = Number((await tokenFrom(server, "127.0.0.3", wrong)).retryAfter);
    await new Promise((resolve) => setTimeout(resolve, first * 1000 + 100));
    await tokenFrom(server, "127.0.0.3", wrong);
    const second = Number((await tokenFrom(server, "127.0.0.3", wrong)).retryAfter);
    expect(second).toBeGreaterThan(first);
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

  it("limit a flooding address, and count refusals in /metrics", async () => {
    const client = await registerClient(server, { name: "flooder", scopes: ["s"] });
    const results = await Promise.all(Array.from({ length: 60 }, () => tokenFrom(server, "127.0.0.5", client)));
    const limited = results.filter((result) => result.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]!.retryAfter).toMatch(/^\d+$/);
    expect(results.every((result) => result.status === 200 || result.status === 429)).toBe(true);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/tessera_rate_limited_total\{limit="ip"\} [1-9]/);
    expect(metrics).toMatch(/tessera_rate_limited_total\{limit="client"\} [1-9]/);
    expect(metrics).toMatch(/tessera_tokens_issued_total\{client_id="[^"]+",alg="RS256",grant_type="client_credentials"\} [1-9]/);
    expect(metrics).toMatch(/tessera_http_requests_total\{route="\/oauth\/token",method="POST",status="429"\}/);
    expect(metrics).toMatch(/tessera_clients_cached [1-9]/);
    expect(metrics).toMatch(/tessera_database_up 1/);
  });
});
