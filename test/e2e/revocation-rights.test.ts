/**
 * Who may end and who may see a token. RFC 7009: a client may always revoke its own tokens;
 * revoking another client's takes tessera:revoke — tessera:introspect is the right to look, not
 * to end (refused as unauthorized_client, the token stays valid). Ending a refresh chain, by
 * reuse or by revocation, also revokes the access tokens the chain issued. RFC 7662: a refresh
 * token is described to its owner only. Over HTTP and gRPC, on both storages.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerClient, type RegisteredClient } from "../support/clients.js";
import { grpc, grpcClient, unary } from "../support/grpc-clients.js";
import { STORAGE_KINDS, basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";

interface Grant {
  readonly accessToken: string;
  readonly refreshToken: string;
}

describe.each(STORAGE_KINDS)("revocation and refresh-token introspection rights on %s storage", (storage) => {
  let server: TestServer;
  let worker: RegisteredClient;
  /** Holds tessera:introspect only. */
  let looker: RegisteredClient;
  /** Holds tessera:revoke. */
  let revoker: RegisteredClient;
  let adminIntrospector: string;

  beforeAll(async () => {
    server = await startTestServer({ storage });
    worker = await registerClient(server, { name: "worker", scopes: ["w:read"], refreshTokensEnabled: true });
    looker = await registerClient(server, { name: "looker", scopes: ["tessera:introspect"] });
    revoker = await registerClient(server, { name: "revoker", scopes: ["tessera:revoke"] });
    adminIntrospector = `Bearer ${await server.adminToken("tessera:introspect")}`;
  });
  afterAll(async () => server?.destroy());

  const basic = (client: RegisteredClient) => basicAuthorization(client.clientId, client.clientSecret);

  async function post(path: string, body: Record<string, string>, authorization: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization },
      body: new URLSearchParams(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }
  async function grant(client: RegisteredClient): Promise<Grant> {
    const { status, body } = await post("/oauth/token", { grant_type: "client_credentials" }, basic(client));
    expect(status).toBe(200);
    return { accessToken: body.access_token as string, refreshToken: body.refresh_token as string };
  }
  async function refresh(client: RegisteredClient, refreshToken: string) {
    const { status, body } = await post("/oauth/token", { grant_type: "refresh_token", refresh_token: refreshToken }, basic(client));
    return { status, body, accessToken: body.access_token as string, refreshToken: body.refresh_token as string };
  }
  const revoke = (token: string, authorization: string) => post("/oauth/revoke", { token }, authorization);
  const introspect = (token: string, authorization: string) => post("/oauth/introspect", { token }, authorization);
  const isActive = async (token: string) => (await introspect(token, adminIntrospector)).body.active;

  async function rpc<T>(method: string, request: object, authorization: string): Promise<T> {
    const client = grpcClient(`127.0.0.1:${server.port}`, "IntrospectionService");
    const metadata = new grpc.Metadata();
    metadata.set("authorization", authorization);
    try {
      return await unary<T>(client, method, request, metadata);
    } finally {
      client.close();
    }
  }

  describe("revoking another client's tokens", () => {
    it("is refused with tessera:introspect alone, over HTTP and gRPC, and the tokens stay valid", async () => {
      const { accessToken, refreshToken } = await grant(worker);
      for (const token of [accessToken, refreshToken]) {
        expect(await revoke(token, basic(looker))).toMatchObject({ status: 400, body: { error: "unauthorized_client" } });
        await expect(rpc("revokeToken", { token }, basic(looker))).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      }
      const lookerBearer = `Bearer ${(await grant(looker)).accessToken}`;
      expect(await revoke(accessToken, lookerBearer)).toMatchObject({ status: 400, body: { error: "unauthorized_client" } });
      await expect(rpc("revokeToken", { token: refreshToken }, lookerBearer)).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      expect(await isActive(accessToken)).toBe(true);
      expect((await refresh(worker, refreshToken)).status).toBe(200);
    });

    it("is allowed with tessera:revoke, by client credentials or Bearer, over HTTP and gRPC", async () => {
      const viaHttp = await grant(worker);
      expect(await revoke(viaHttp.accessToken, basic(revoker))).toEqual({ status: 200, body: {} });
      expect(await isActive(viaHttp.accessToken)).toBe(false);
      expect(await revoke(viaHttp.refreshToken, `Bearer ${(await grant(revoker)).accessToken}`)).toEqual({ status: 200, body: {} });
      expect((await refresh(worker, viaHttp.refreshToken)).body.error).toBe("invalid_grant");

      const viaGrpc = await grant(worker);
      await rpc("revokeToken", { token: viaGrpc.accessToken }, basic(revoker));
      await rpc("revokeToken", { token: viaGrpc.refreshToken }, `Bearer ${(await grant(revoker)).accessToken}`);
      expect(await isActive(viaGrpc.accessToken)).toBe(false);
      expect((await refresh(worker, viaGrpc.refreshToken)).body.error).toBe("invalid_grant");
    });

    it("is what the bootstrap admin may do, and the metadata lists tessera:revoke", async () => {
      const { accessToken } = await grant(worker);
      expect((await revoke(accessToken, `Bearer ${await server.adminToken("tessera:revoke")}`)).status).toBe(200);
      expect(await isActive(accessToken)).toBe(false);
      const metadata = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as { scopes_supported: string[] };
      expect(metadata.scopes_supported).toContain("tessera:revoke");
    });
  });

  describe("revoking one's own tokens", () => {
    it("needs no scope, and revoking a refresh token also revokes the access tokens of its chain, over HTTP and gRPC", async () => {
      const first = await grant(worker);
      const second = await refresh(worker, first.refreshToken);
      expect(await revoke(second.refreshToken, basic(worker))).toEqual({ status: 200, body: {} });
      expect(await isActive(first.accessToken)).toBe(false);
      expect(await isActive(second.accessToken)).toBe(false);

      const other = await grant(worker);
      await rpc("revokeToken", { token: other.refreshToken }, basic(worker));
      expect(await isActive(other.accessToken)).toBe(false);
      expect((await refresh(worker, other.refreshToken)).body.error).toBe("invalid_grant");
    });
  });

  describe("refresh token reuse", () => {
    it("revokes the chain and every access token it issued", async () => {
      const first = await grant(worker);
      const second = await refresh(worker, first.refreshToken);
      const third = await refresh(worker, second.refreshToken);
      expect(await isActive(third.accessToken)).toBe(true);
      // The first refresh token, replayed: an attacker or a confused client.
      expect((await refresh(worker, first.refreshToken)).body.error).toBe("invalid_grant");
      for (const token of [first.accessToken, second.accessToken, third.accessToken]) expect(await isActive(token)).toBe(false);
      expect((await refresh(worker, third.refreshToken)).body.error).toBe("invalid_grant");
      // Another chain of the same client is untouched.
      const unrelated = await grant(worker);
      expect(await isActive(unrelated.accessToken)).toBe(true);
    });
  });

  describe("introspecting a refresh token", () => {
    it("describes it to its owner over HTTP and gRPC, and to nobody else", async () => {
      const { refreshToken } = await grant(worker);
      const issuedAround = Date.now() / 1000;
      const owned = await introspect(refreshToken, basic(worker));
      expect(owned).toMatchObject({
        status: 200,
        body: { active: true, token_type: "refresh_token", client_id: worker.clientId, scope: "w:read", iss: server.config.issuer },
      });
      expect(Math.abs((owned.body.iat as number) - issuedAround)).toBeLessThan(5);
      expect((owned.body.exp as number) - (owned.body.iat as number)).toBe(server.config.refreshTokenLifetimeSeconds);
      expect(await rpc("introspectToken", { token: refreshToken }, basic(worker))).toMatchObject({
        active: true,
        tokenType: "refresh_token",
        clientId: worker.clientId,
        scopes: ["w:read"],
      });
      for (const caller of [basic(looker), basic(revoker), adminIntrospector]) {
        expect((await introspect(refreshToken, caller)).body).toEqual({ active: false });
        expect(await rpc("introspectToken", { token: refreshToken }, caller)).toMatchObject({ active: false });
      }
    });

    it("answers inactive once it was used, and for junk that looks like one", async () => {
      const { refreshToken } = await grant(worker);
      await refresh(worker, refreshToken);
      expect((await introspect(refreshToken, basic(worker))).body).toEqual({ active: false });
      for (const junk of ["rt_", "rt_not-a-token", `rt_${"A".repeat(43)}`, `${refreshToken}x`]) {
        expect((await introspect(junk, basic(worker))).body).toEqual({ active: false });
      }
    });

    it("never lets a refresh token pass AuthenticateToken", async () => {
      const { refreshToken } = await grant(worker);
      await expect(rpc("authenticateToken", { token: refreshToken }, basic(worker))).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    });
  });
});
