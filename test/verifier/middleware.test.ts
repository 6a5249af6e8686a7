/**
 * requireToken on a plain node:http server and in an Express-style (req, res, next) chain, against
 * a real Tessera: RFC 6750 §3 challenges (401 invalid_token, 403 insufficient_scope with the
 * required scope, no error code without a token), 503 when the token cannot be checked, and a
 * revocation-sensitive route.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createVerifier, requireToken, tokenOf, type TokenMiddleware, type Verifier } from "tessera/verifier";
import { freePort } from "../support/ports.js";
import { registerClient, type RegisteredClient } from "../support/clients.js";
import { basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";

const RESOURCE = "payments-api";

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

describe("requireToken(verifier, { scopes }) as node:http / Express middleware", () => {
  let tessera: TestServer;
  let worker: RegisteredClient;
  let resourceServer: RegisteredClient;
  let verifier: Verifier;
  let api: http.Server;
  let apiUrl: string;

  async function tokenFor(client: RegisteredClient, scope?: string): Promise<string> {
    const response = await fetch(`${tessera.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(client.clientId, client.clientSecret) },
      body: new URLSearchParams({ grant_type: "client_credentials", ...(scope ? { scope } : {}) }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { access_token: string }).access_token;
  }

  const call = async (path: string, authorization?: string, base = apiUrl) => {
    const response = await fetch(`${base}${path}`, { headers: authorization ? { authorization } : {} });
    return { status: response.status, challenge: response.headers.get("www-authenticate"), headers: response.headers, body: (await response.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    tessera = await startTestServer({ storage: "embedded" });
    worker = await registerClient(tessera, { name: "worker", scopes: ["pay:read", "pay:write"], audiences: [RESOURCE] });
    resourceServer = await registerClient(tessera, { clientId: RESOURCE, name: "payments api", scopes: [] });

    // The resource server, as its team would write it.
    verifier = createVerifier({
      issuer: tessera.config.issuer,
      audience: RESOURCE,
      remote: { clientId: resourceServer.clientId, clientSecret: resourceServer.clientSecret },
    });
    const routes: Record<string, TokenMiddleware> = {
      "/payments": requireToken(verifier, { scopes: ["pay:read"] }),
      "/refunds": requireToken(verifier, { scopes: ["pay:read", "pay:write"], checkRevocation: true, realm: "payments" }),
    };
    api = http.createServer((request, response) => {
      routes[request.url ?? ""]!(request, response, () => {
        const token = tokenOf(request);
        response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ client: token.clientId, scopes: token.scopes }));
      });
    });
    apiUrl = await listen(api);
  });
  afterAll(async () => {
    verifier?.close();
    await new Promise((resolve) => api?.close(resolve));
    await tessera?.destroy();
  });

  it("lets a token with the route's scopes through, with its claims on the request", async () => {
    expect(await call("/payments", `Bearer ${await tokenFor(worker, "pay:read")}`)).toMatchObject({
      status: 200,
      body: { client: worker.clientId, scopes: ["pay:read"] },
    });
  });

  it("answers 401 with bare challenges (no error code) when there is no Bearer or DPoP token, or another scheme", async () => {
    for (const authorization of [undefined, basicAuthorization(worker.clientId, worker.clientSecret)]) {
      const answer = await call("/payments", authorization);
      expect(answer.status).toBe(401);
      // RFC 9449 §7.1: both schemes are accepted, so both are offered.
      expect(answer.challenge).toBe('Bearer realm="payments-api", DPoP realm="payments-api", algs="ES256 EdDSA PS256 RS256"');
    }
  });

  it('answers 401 with error="invalid_token" for an invalid token', async () => {
    const token = await tokenFor(worker);
    const tampered = `${token.slice(0, -6)}AAAAAA`;
    for (const bad of ["not-a-token", tampered]) {
      const answer = await call("/payments", `Bearer ${bad}`);
      expect(answer.status).toBe(401);
      expect(answer.challenge).toMatch(/^Bearer realm="payments-api", error="invalid_token", error_description="[^"]+"$/);
      expect(answer.headers.get("cache-control")).toBe("no-store");
      expect(answer.body).toMatchObject({ error: "invalid_token" });
    }
  });

  it('answers 403 with error="insufficient_scope" and the scopes the route requires', async () => {
    const answer = await call("/refunds", `Bearer ${await tokenFor(worker, "pay:read")}`);
    expect(answer.status).toBe(403);
    expect(answer.challenge).toBe(
      'Bearer realm="payments", error="insufficient_scope", error_description="the token lacks the scopes pay:write", scope="pay:read pay:write"',
    );
    expect(answer.body).toEqual({ error: "insufficient_scope", error_description: "the token lacks the scopes pay:write" });
  });

  it('answers 400 with error="invalid_request" for a malformed Bearer header', async () => {
    const answer = await call("/payments", "Bearer two tokens");
    expect(answer.status).toBe(400);
    expect(answer.challenge).toContain('error="invalid_request"');
  });

  it("refuses a revoked token on the revocation-sensitive route only", async () => {
    const token = await tokenFor(worker);
    expect((await call("/refunds", `Bearer ${token}`)).status).toBe(200);
    const revoked = await fetch(`${tessera.url}/oauth/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(worker.clientId, worker.clientSecret) },
      body: new URLSearchParams({ token }),
    });
    expect(revoked.status).toBe(200);
    expect((await call("/payments", `Bearer ${token}`)).status).toBe(200);
    const answer = await call("/refunds", `Bearer ${token}`);
    expect(answer.status).toBe(401);
    expect(answer.challenge).toContain('error="invalid_token"');
  });

  it("answers 503 with Retry-After, and no challenge, when the keys cannot be fetched", async () => {
    const unreachable = createVerifier({ issuer: tessera.config.issuer, audience: RESOURCE, jwksUri: `http://127.0.0.1:${await freePort()}/keys` });
    const guard = requireToken(unreachable);
    const server = http.createServer((request, response) => guard(request, response, () => response.writeHead(200).end("{}")));
    const url = await listen(server);
    try {
      const answer = await call("/", `Bearer ${await tokenFor(worker)}`, url);
      expect(answer.status).toBe(503);
      expect(answer.headers.get("retry-after")).toBe("5");
      expect(answer.challenge).toBeNull();
      expect(answer.body).toMatchObject({ error: "temporarily_unavailable" });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("fits an Express-style chain: next() only when the token passes", async () => {
    type Request = http.IncomingMessage & { tessera?: ReturnType<typeof tokenOf> };
    type Handler = (request: Request, response: http.ServerResponse, next: (error?: unknown) => void) => void;
    const reached: string[] = [];
    const chain: Handler[] = [
      requireToken(verifier, { scopes: ["pay:write"] }),
      (request, response) => {
        reached.push(tokenOf(request).clientId);
        response.writeHead(204).end();
      },
    ];
    const server = http.createServer((request, response) => {
      const run = (index: number) => (error?: unknown) => {
        if (error) response.writeHead(500).end();
        else chain[index]?.(request, response, run(index + 1));
      };
      run(0)();
    });
    const url = await listen(server);
    try {
      expect((await fetch(url, { headers: { authorization: `Bearer ${await tokenFor(worker, "pay:read")}` } })).status).toBe(403);
      expect((await fetch(url, { headers: { authorization: `Bearer ${await tokenFor(worker, "pay:write")}` } })).status).toBe(204);
      expect(reached).toEqual([worker.clientId]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
