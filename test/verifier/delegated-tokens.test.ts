/**
 * tessera/verifier and delegated tokens (RFC 8693 §4.1 `act`): the chain exposed typed, routes
 * that require or refuse delegated tokens (requireToken and tokenInterceptor answer 403 /
 * PERMISSION_DENIED), and a malformed `act` refused as invalid_token. The tokens are signed here
 * with a key served as the issuer's JWKS; the end-to-end story against a real Tessera lives in
 * test/e2e/delegation.test.ts.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, createClient, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accessTokenKey, createVerifier, requireToken, tokenInterceptor, tokenOf, VerifierError, type Verifier } from "tessera/verifier";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../src/gen/grpc/health/v1/health_pb.js";

const ISSUER = "https://tessera.test";
const RESOURCE = "svc-billing";

describe("tessera/verifier with delegated tokens", () => {
  let privateKey: CryptoKey;
  let verifier: Verifier;
  const servers: http.Server[] = [];

  const sign = (claims: Record<string, unknown>) =>
    new SignJWT({ client_id: "svc-orders", scope: "billing:read", jti: `jti-${Math.random()}`, ...claims })
      .setProtectedHeader({ alg: "ES256", kid: "k1", typ: "at+jwt" })
      .setIssuer(ISSUER)
      .setSubject("svc-caller")
      .setAudience(RESOURCE)
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(privateKey);

  const delegated = () => sign({ act: { sub: "svc-orders", act: { sub: "svc-gateway" } } });
  const direct = () => sign({ client_id: "svc-caller" });

  async function listen(server: http.Server): Promise<string> {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  beforeAll(async () => {
    const pair = await generateKeyPair("ES256", { extractable: true });
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    verifier = createVerifier({
      issuer: ISSUER,
      audience: RESOURCE,
      fetch: async () => new Response(JSON.stringify({ keys: [jwk] }), { headers: { "content-type": "application/json" } }),
    });
  });
  afterAll(async () => {
    verifier.close();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  });

  it("exposes the act chain typed, the current actor first, and keeps it out of the custom claims", async () => {
    const verified = await verifier.verify(await delegated());
    expect(verified).toMatchObject({
      subject: "svc-caller",
      clientId: "svc-orders",
      actor: { subject: "svc-orders", actor: { subject: "svc-gateway" } },
      actors: ["svc-orders", "svc-gateway"],
      customClaims: {},
    });
    const own = await verifier.verify(await direct());
    expect(own.actor).toBeUndefined();
    expect(own.actors).toEqual([]);
  });

  it("refuses a token whose act is malformed with invalid_token", async () => {
    for (const act of ["svc-orders", { sub: 7 }, { sub: "svc-orders", act: [] }]) {
      await expect(verifier.verify(await sign({ act }))).rejects.toMatchObject({ code: "invalid_token", message: "the token lacks a valid act claim" });
    }
  });

  it("requires or refuses delegated tokens per call with insufficient_scope", async () => {
    await expect(verifier.verify(await direct(), { delegation: "require" })).rejects.toMatchObject({ code: "insufficient_scope" });
    await expect(verifier.verify(await delegated(), { delegation: "refuse" })).rejects.toBeInstanceOf(VerifierError);
    expect((await verifier.verify(await delegated(), { delegation: "require" })).actors).toEqual(["svc-orders", "svc-gateway"]);
    expect((await verifier.verify(await direct(), { delegation: "refuse" })).actors).toEqual([]);
  });

  it("answers 403 insufficient_scope from requireToken on routes that require or refuse delegation", async () => {
    const routes = {
      "/on-behalf": requireToken(verifier, { delegation: "require" }),
      "/direct-only": requireToken(verifier, { delegation: "refuse" }),
    };
    const url = await listen(
      http.createServer((request, response) => {
        routes[request.url as keyof typeof routes](request, response, () => {
          response.writeHead(200, { "content-type": "application/json" });
          response.end(JSON.stringify({ actors: tokenOf(request).actors }));
        });
      }),
    );
    const call = async (path: string, token: string) => {
      const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      return { status: response.status, challenge: response.headers.get("www-authenticate"), body: await response.json() };
    };
    expect(await call("/on-behalf", await delegated())).toMatchObject({ status: 200, body: { actors: ["svc-orders", "svc-gateway"] } });
    const refusedDirect = await call("/on-behalf", await direct());
    expect(refusedDirect).toMatchObject({ status: 403, body: { error: "insufficient_scope" } });
    expect(refusedDirect.challenge).toContain('error="insufficient_scope"');
    expect(await call("/direct-only", await delegated())).toMatchObject({ status: 403, body: { error: "insufficient_scope" } });
    expect(await call("/direct-only", await direct())).toMatchObject({ status: 200, body: { actors: [] } });
  });

  it("answers PERMISSION_DENIED from tokenInterceptor per method, and hands the chain to handlers", async () => {
    const seen: (readonly string[] | undefined)[] = [];
    const service: Partial<ServiceImpl<typeof Health>> = {
      check(_request, context) {
        seen.push(context.values.get(accessTokenKey)?.actors);
        return { status: ServingStatus.SERVING };
      },
    };
    const interceptor = tokenInterceptor(verifier, { delegation: "refuse", methods: { "grpc.health.v1.Health/Check": { delegation: "require" } } });
    const baseUrl = await listen(http.createServer(connectNodeAdapter({ routes: (router) => router.service(Health, service), interceptors: [interceptor] })));
    const client = createClient(Health, createConnectTransport({ baseUrl, httpVersion: "1.1" }));
    const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
    expect((await client.check({}, bearer(await delegated()))).status).toBe(ServingStatus.SERVING);
    expect(seen).toEqual([["svc-orders", "svc-gateway"]]);
    const refused = await client.check({}, bearer(await direct())).then(() => undefined, (error: unknown) => ConnectError.from(error));
    expect(refused?.code).toBe(Code.PermissionDenied);
  });
});
