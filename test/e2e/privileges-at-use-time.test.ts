/**
 * A token grants at most what its client is allowed when it is used: a refresh token redeemed
 * after UpdateClient withdrew scopes or audiences yields only what the client still has (or
 * invalid_grant when nothing is left), a refresh chain ends at its maximum lifetime however
 * often it is used, and an access token already issued loses a withdrawn scope at once — at the
 * admin API, for introspection callers, and in what introspection reports. Over HTTP and gRPC,
 * on both storages.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminApi, registerClient, type RegisteredClient } from "../support/clients.js";
import { grpc, grpcClient, unary } from "../support/grpc-clients.js";
import { STORAGE_KINDS, basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";

const HOUR = 3_600_000;

interface TokenAnswer {
  readonly status: number;
  readonly body: Record<string, string>;
}

interface GrpcTokenResponse {
  readonly accessToken: string;
  readonly scopes: string[];
  readonly audiences: string[];
  readonly refreshToken: string;
}

describe.each(STORAGE_KINDS)("privileges at use time on %s storage", (storage) => {
  let server: TestServer;
  /** The server's clock runs this far ahead of the real one. */
  let clockOffsetMs = 0;

  beforeAll(async () => {
    server = await startTestServer({
      storage,
      now: () => new Date(Date.now() + clockOffsetMs),
      env: { TESSERA_REFRESH_TOKEN_LIFETIME: "1h", TESSERA_REFRESH_TOKEN_MAX_CHAIN_LIFETIME: "2h" },
    });
  });
  afterAll(async () => server?.destroy());

  async function tokenRequest(client: RegisteredClient, body: Record<string, string>): Promise<TokenAnswer> {
    const response = await fetch(`${server.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(client.clientId, client.clientSecret) },
      body: new URLSearchParams(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, string> };
  }
  const credentialsGrant = (client: RegisteredClient, extra: Record<string, string> = {}) =>
    tokenRequest(client, { grant_type: "client_credentials", ...extra });
  const refresh = (client: RegisteredClient, refreshToken: string, extra: Record<string, string> = {}) =>
    tokenRequest(client, { grant_type: "refresh_token", refresh_token: refreshToken, ...extra });

  async function grpcCall<T>(service: "TokenService" | "ClientAdminService" | "IntrospectionService", method: string, request: object, authorization?: string): Promise<T> {
    const client = grpcClient(`127.0.0.1:${server.port}`, service);
    const metadata = new grpc.Metadata();
    if (authorization) metadata.set("authorization", authorization);
    try {
      return await unary<T>(client, method, request, metadata);
    } finally {
      client.close();
    }
  }
  const grpcIssue = (client: RegisteredClient, request: object) =>
    grpcCall<GrpcTokenResponse>("TokenService", "issueToken", { clientId: client.clientId, clientSecret: client.clientSecret, ...request });

  async function introspect(token: string, authorization: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${server.url}/oauth/introspect`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization },
      body: new URLSearchParams({ token }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  /** CreateClient with the given access token, over Connect and over grpc-js: the two codes. */
  async function createClientCodes(accessToken: string): Promise<[Code | "ok", grpc.status | "ok"]> {
    const connect = await adminApi(server)
      .createClient({ name: "made-by-a-refreshed-token" }, { headers: { authorization: `Bearer ${accessToken}` } })
      .then(() => "ok" as const, (error: unknown) => ConnectError.from(error).code);
    const viaGrpc = await grpcCall("ClientAdminService", "createClient", { name: "made-by-a-refreshed-token" }, `Bearer ${accessToken}`).then(
      () => "ok" as const,
      (error: grpc.ServiceError) => error.code,
    );
    return [connect, viaGrpc];
  }

  /** UpdateClient with the fields given; a fresh admin token each time, as the clock moves. */
  const withdraw = async (clientId: string, client: { scopes?: string[]; defaultScopes?: string[]; audiences?: string[]; defaultAudiences?: string[] }) =>
    adminApi(server).updateClient(
      {
        client: { clientId, ...client },
        updateMask: { paths: Object.keys(client).map((name) => name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)) },
      },
      { headers: { authorization: `Bearer ${await server.adminToken()}` } },
    );

  describe("refresh token redemption", () => {
    it("after UpdateClient withdrew tessera:admin, issues tokens without it over HTTP and gRPC, and CreateClient refuses them", async () => {
      const client = await registerClient(server, { name: "demoted-admin", scopes: ["tessera:admin", "ops:x"], refreshTokensEnabled: true });
      const httpGrant = await credentialsGrant(client);
      expect(httpGrant.body.scope).toBe("tessera:admin ops:x");
      const grpcGrant = await grpcIssue(client, {});
      expect(grpcGrant.scopes).toEqual(["tessera:admin", "ops:x"]);

      await withdraw(client.clientId, { scopes: ["ops:x"], defaultScopes: ["ops:x"] });

      const httpRefreshed = await refresh(client, httpGrant.body.refresh_token!);
      expect(httpRefreshed).toMatchObject({ status: 200, body: { scope: "ops:x" } });
      expect(decodeJwt(httpRefreshed.body.access_token!).scope).toBe("ops:x");
      const grpcRefreshed = await grpcIssue(client, { grantType: "GRANT_TYPE_REFRESH_TOKEN", refreshToken: grpcGrant.refreshToken });
      expect(grpcRefreshed.scopes).toEqual(["ops:x"]);
      expect(decodeJwt(grpcRefreshed.accessToken).scope).toBe("ops:x");

      expect(await createClientCodes(httpRefreshed.body.access_token!)).toEqual([Code.PermissionDenied, grpc.status.PERMISSION_DENIED]);
      expect(await createClientCodes(grpcRefreshed.accessToken)).toEqual([Code.PermissionDenied, grpc.status.PERMISSION_DENIED]);

      // Asking for the withdrawn scope by name is refused; the chain itself goes on.
      expect(await refresh(client, httpRefreshed.body.refresh_token!, { scope: "tessera:admin" })).toMatchObject({ status: 400, body: { error: "invalid_scope" } });
      await expect(
        grpcIssue(client, { grantType: "GRANT_TYPE_REFRESH_TOKEN", refreshToken: grpcRefreshed.refreshToken, scopes: ["tessera:admin"] }),
      ).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      expect(await refresh(client, httpRefreshed.body.refresh_token!)).toMatchObject({ status: 200, body: { scope: "ops:x" } });
    });

    it("answers invalid_grant once every scope of the refresh token has been withdrawn", async () => {
      const client = await registerClient(server, { name: "emptied", scopes: ["a", "b"], refreshTokensEnabled: true });
      const grant = await credentialsGrant(client, { scope: "a" });
      const grpcGrant = await grpcIssue(client, { scopes: ["a"] });
      await withdraw(client.clientId, { scopes: ["b"], defaultScopes: ["b"] });
      expect(await refresh(client, grant.body.refresh_token!)).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
      await expect(grpcIssue(client, { grantType: "GRANT_TYPE_REFRESH_TOKEN", refreshToken: grpcGrant.refreshToken })).rejects.toMatchObject({
        code: grpc.status.INVALID_ARGUMENT,
      });
    });

    it("leaves out withdrawn audiences, and answers invalid_grant rather than a token for Tessera when none is left", async () => {
      const client = await registerClient(server, {
        name: "audiences",
        scopes: ["a"],
        audiences: ["api-one", "api-two", "api-three"],
        defaultAudiences: ["api-one", "api-two"],
        refreshTokensEnabled: true,
      });
      const both = await credentialsGrant(client);
      expect(decodeJwt(both.body.access_token!).aud).toEqual(["api-one", "api-two"]);
      const onlyOne = await credentialsGrant(client, { resource: "api-one" });
      await withdraw(client.clientId, { audiences: ["api-two", "api-three"], defaultAudiences: ["api-two"] });
      const narrowed = await refresh(client, both.body.refresh_token!);
      expect(narrowed.status).toBe(200);
      expect(decodeJwt(narrowed.body.access_token!).aud).toBe("api-two");
      expect(await refresh(client, narrowed.body.refresh_token!, { resource: "api-one" })).toMatchObject({ status: 400, body: { error: "invalid_target" } });
      expect(await refresh(client, onlyOne.body.refresh_token!)).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
    });

    it("ends a chain at its maximum lifetime, however often it was redeemed", async () => {
      const client = await registerClient(server, { name: "long-runner", scopes: ["a"], refreshTokensEnabled: true });
      const started = Date.now() + clockOffsetMs;
      const grant = await credentialsGrant(client);
      clockOffsetMs += 0.8 * HOUR;
      const second = await refresh(client, grant.body.refresh_token!);
      expect(second.status).toBe(200);
      clockOffsetMs += 0.8 * HOUR;
      const third = await refresh(client, second.body.refresh_token!);
      expect(third.status).toBe(200);
      // Its own hour would reach past the chain's two: the chain's end is the token's.
      const described = await introspect(third.body.refresh_token!, basicAuthorization(client.clientId, client.clientSecret));
      expect(described.body).toMatchObject({ active: true, token_type: "refresh_token" });
      expect(Math.abs((described.body.exp as number) - (started + 2 * HOUR) / 1000)).toBeLessThan(5);
      clockOffsetMs += 0.5 * HOUR;
      expect(await refresh(client, third.body.refresh_token!)).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
      // A new grant starts a new chain.
      expect((await credentialsGrant(client)).body.refresh_token).toMatch(/^rt_/);
    });
  });

  describe("access tokens already issued", () => {
    it("lose tessera:admin at the admin API the moment UpdateClient withdraws it, over Connect and gRPC", async () => {
      const client = await registerClient(server, { name: "admin-for-a-while", scopes: ["tessera:admin", "ops:x"] });
      const token = (await credentialsGrant(client)).body.access_token!;
      expect(await createClientCodes(token)).toEqual(["ok", "ok"]);
      await withdraw(client.clientId, { scopes: ["ops:x"], defaultScopes: ["ops:x"] });
      expect(await createClientCodes(token)).toEqual([Code.PermissionDenied, grpc.status.PERMISSION_DENIED]);
    });

    it("lose tessera:introspect as introspection callers, and introspection reports only the scopes still allowed", async () => {
      const introspector = await registerClient(server, { name: "introspector-for-a-while", scopes: ["tessera:introspect", "ops:x"] });
      const worker = await registerClient(server, { name: "worker", scopes: ["w:read", "w:write"] });
      const bearer = (await credentialsGrant(introspector)).body.access_token!;
      const workerToken = (await credentialsGrant(worker)).body.access_token!;
      expect((await introspect(workerToken, `Bearer ${bearer}`)).body).toMatchObject({ active: true, scope: "w:read w:write" });

      await withdraw(worker.clientId, { scopes: ["w:read"], defaultScopes: ["w:read"] });
      expect((await introspect(workerToken, `Bearer ${bearer}`)).body).toMatchObject({ active: true, scope: "w:read" });
      const viaGrpc = await grpcCall<{ active: boolean; scopes: string[] }>("IntrospectionService", "introspectToken", { token: workerToken }, `Bearer ${bearer}`);
      expect(viaGrpc).toMatchObject({ active: true, scopes: ["w:read"] });
      await expect(
        grpcCall("IntrospectionService", "authenticateToken", { token: workerToken, requiredScopes: ["w:write"] }, `Bearer ${bearer}`),
      ).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });

      await withdraw(introspector.clientId, { scopes: ["ops:x"], defaultScopes: ["ops:x"] });
      const refused = await introspect(workerToken, `Bearer ${bearer}`);
      expect(refused.status).toBe(403);
      expect(refused.body).toMatchObject({ error: "insufficient_scope" });
      await expect(grpcCall("IntrospectionService", "introspectToken", { token: workerToken }, `Bearer ${bearer}`)).rejects.toMatchObject({
        code: grpc.status.PERMISSION_DENIED,
      });
    });

    it("become inactive once every audience they were issued for has been withdrawn", async () => {
      const client = await registerClient(server, { name: "retargeted", scopes: ["a"], audiences: ["api-old", "api-new"], defaultAudiences: ["api-old"] });
      const token = (await credentialsGrant(client)).body.access_token!;
      const admin = `Bearer ${await server.adminToken("tessera:introspect")}`;
      expect((await introspect(token, admin)).body).toMatchObject({ active: true, aud: "api-old" });
      await withdraw(client.clientId, { audiences: ["api-new"], defaultAudiences: ["api-new"] });
      expect((await introspect(token, admin)).body).toEqual({ active: false });
    });
  });
});
