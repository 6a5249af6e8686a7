/**
 * tokenInterceptor on a small Connect server (connectNodeAdapter on http.createServer) standing in
 * for a resource server's own service, against a real Tessera: UNAUTHENTICATED and
 * PERMISSION_DENIED refusals with the RFC 6750 challenge as metadata, claims handed to handlers
 * through the context, public methods, and a revocation-sensitive interceptor.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, createClient, type Interceptor, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accessTokenKey, createVerifier, tokenInterceptor, type VerifiedAccessToken, type Verifier } from "tessera/verifier";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../src/gen/grpc/health/v1/health_pb.js";
import { registerClient, type RegisteredClient } from "../support/clients.js";
import { basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";

const RESOURCE = "inventory-api";

describe("tokenInterceptor(verifier, { scopes }) on a Connect service", () => {
  let tessera: TestServer;
  let worker: RegisteredClient;
  let verifier: Verifier;
  const servers: http.Server[] = [];
  const seen: (VerifiedAccessToken | undefined)[] = [];

  async function tokenFor(client: RegisteredClient, scope?: string): Promise<string> {
    const response = await fetch(`${tessera.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(client.clientId, client.clientSecret) },
      body: new URLSearchParams({ grant_type: "client_credentials", ...(scope ? { scope } : {}) }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { access_token: string }).access_token;
  }

  /**
   * A resource server's service: Check needs a token, Watch is public; handlers read the token
   * from the context. Partial: only these two methods are called.
   */
  const service: Partial<ServiceImpl<typeof Health>> = {
    check(_request, context) {
      seen.push(context.values.get(accessTokenKey));
      return { status: ServingStatus.SERVING };
    },
    async *watch(_request, context) {
      seen.push(context.values.get(accessTokenKey));
      yield { status: ServingStatus.SERVING };
    },
  };

  async function startResourceServer(interceptor: Interceptor) {
    const server = http.createServer(connectNodeAdapter({ routes: (router) => router.service(Health, service), interceptors: [interceptor] }));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { baseUrl, client: createClient(Health, createConnectTransport({ baseUrl, httpVersion: "1.1" })) };
  }

  let plain: Awaited<ReturnType<typeof startResourceServer>>;
  let revocationSensitive: Awaited<ReturnType<typeof startResourceServer>>;

  const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
  const refusal = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => ConnectError.from(error));

  beforeAll(async () => {
    tessera = await startTestServer({ storage: "embedded" });
    worker = await registerClient(tessera, { name: "worker", scopes: ["stock:read", "stock:write"], audiences: [RESOURCE] });
    const resourceServer = await registerClient(tessera, { clientId: RESOURCE, name: "inventory api", scopes: [] });
    verifier = createVerifier({
      issuer: tessera.config.issuer,
      audience: RESOURCE,
      remote: { clientId: resourceServer.clientId, clientSecret: resourceServer.clientSecret },
    });
    plain = await startResourceServer(
      tokenInterceptor(verifier, { scopes: ["stock:read"], methods: { "grpc.health.v1.Health/Watch": { public: true } } }),
    );
    revocationSensitive = await startResourceServer(tokenInterceptor(verifier, { checkRevocation: true }));
  });
  afterAll(async () => {
    verifier?.close();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    await tessera?.destroy();
  });

  it("passes a valid token and hands its claims to the handler through the context", async () => {
    seen.length = 0;
    expect((await plain.client.check({}, bearer(await tokenFor(worker, "stock:read")))).status).toBe(ServingStatus.SERVING);
    expect(seen).toEqual([expect.objectContaining({ clientId: worker.clientId, scopes: ["stock:read"], audiences: [RESOURCE] })]);
  });

  it("answers UNAUTHENTICATED without a token, with an invalid token, and with a malformed header", async () => {
    for (const options of [{}, bearer("not-a-token"), { headers: { authorization: "Bearer two tokens" } }]) {
      const error = await refusal(plain.client.check({}, options));
      expect(error?.code).toBe(Code.Unauthenticated);
    }
    const invalid = await refusal(plain.client.check({}, bearer("not-a-token")));
    expect(invalid?.metadata.get("www-authenticate")).toMatch(/^Bearer realm="inventory-api", error="invalid_token"/);
    const missing = await refusal(plain.client.check({}));
    expect(missing?.metadata.get("www-authenticate")).toBe('Bearer realm="inventory-api"');
  });

  it("answers PERMISSION_DENIED naming the missing scope", async () => {
    const error = await refusal(plain.client.check({}, bearer(await tokenFor(worker, "stock:write"))));
    expect(error?.code).toBe(Code.PermissionDenied);
    expect(error?.rawMessage).toBe("the token lacks the scopes stock:read");
    expect(error?.metadata.get("www-authenticate")).toContain('error="insufficient_scope", error_description="the token lacks the scopes stock:read", scope="stock:read"');
  });

  it("is 401 / 403 with WWW-Authenticate for a Connect JSON caller over plain HTTP", async () => {
    const post = async (authorization?: string) =>
      fetch(`${plain.baseUrl}/grpc.health.v1.Health/Check`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
        body: "{}",
      });
    const unauthenticated = await post();
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get("www-authenticate")).toBe('Bearer realm="inventory-api"');
    const forbidden = await post(`Bearer ${await tokenFor(worker, "stock:write")}`);
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
  });

  it("lets public methods through without a token", async () => {
    seen.length = 0;
    const statuses: ServingStatus[] = [];
    for await (const message of plain.client.watch({})) statuses.push(message.status);
    expect(statuses).toEqual([ServingStatus.SERVING]);
    expect(seen).toEqual([undefined]);
  });

  it("with checkRevocation, refuses a revoked token that still verifies locally", async () => {
    const token = await tokenFor(worker);
    expect((await revocationSensitive.client.check({}, bearer(token))).status).toBe(ServingStatus.SERVING);
    const revoked = await fetch(`${tessera.url}/oauth/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(worker.clientId, worker.clientSecret) },
      body: new URLSearchParams({ token }),
    });
    expect(revoked.status).toBe(200);
    expect((await plain.client.check({}, bearer(token))).status).toBe(ServingStatus.SERVING);
    const error = await refusal(revocationSensitive.client.check({}, bearer(token)));
    expect(error?.code).toBe(Code.Unauthenticated);
    expect(error?.rawMessage).toBe("Tessera reports the token is no longer active");
  });
});
