/**
 * Refresh tokens, a per-client opt-in: none by default (RFC 6749 §4.4.3); when enabled, single
 * use with rotation, reuse revoking the chain, and the chain ending on deactivation, secret
 * rotation or revocation.
 */
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GrantType, TokenService } from "../../src/gen/tessera/v1/token_service_pb.js";
import { adminApi, registerClient, type RegisteredClient } from "../support/clients.js";
import { basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";

let server: TestServer;
let auth: { headers: { authorization: string } };

beforeAll(async () => {
  server = await startTestServer({ storage: "embedded" });
  auth = { headers: { authorization: `Bearer ${await server.adminToken()}` } };
});
afterAll(async () => server?.destroy());

async function tokenRequest(client: RegisteredClient, body: Record<string, string>) {
  const response = await fetch(`${server.url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(client.clientId, client.clientSecret) },
    body: new URLSearchParams(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

const credentialsGrant = (client: RegisteredClient) => tokenRequest(client, { grant_type: "client_credentials" });
const refresh = (client: RegisteredClient, refreshToken: string, extra: Record<string, string> = {}) =>
  tokenRequest(client, { grant_type: "refresh_token", refresh_token: refreshToken, ...extra });

describe("refresh tokens", () => {
  it("are not issued to clients that did not opt in", async () => {
    const client = await registerClient(server, { name: "plain", scopes: ["a"] });
    const { body } = await credentialsGrant(client);
    expect(body).not.toHaveProperty("refresh_token");
  });

  it("rotate on every use, and a reused one revokes the whole chain", async () => {
    const client = await registerClient(server, { name: "refresher", scopes: ["a", "b"], refreshTokensEnabled: true });
    const first = await credentialsGrant(client);
    expect(first.body.refresh_token).toMatch(/^rt_[A-Za-z0-9_-]{43}$/);
    const second = await refresh(client, first.body.refresh_token!);
    expect(second).toMatchObject({ status: 200, body: { token_type: "Bearer", scope: "a b" } });
    expect(second.body.refresh_token).not.toBe(first.body.refresh_token);
    const reused = await refresh(client, first.body.refresh_token!);
    expect(reused).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
    // The successor was revoked with the chain.
    expect(await refresh(client, second.body.refresh_token!)).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
  });

  it("may narrow scopes but never widen them, and belong to their client only", async () => {
    const client = await registerClient(server, { name: "narrower", scopes: ["a", "b"], refreshTokensEnabled: true });
    const other = await registerClient(server, { name: "other", scopes: ["a"], refreshTokensEnabled: true });
    const grant = await tokenRequest(client, { grant_type: "client_credentials", scope: "a" });
    expect(await refresh(client, grant.body.refresh_token!, { scope: "a b" })).toMatchObject({ status: 400, body: { error: "invalid_scope" } });
    expect(await refresh(other, grant.body.refresh_token!)).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
    const narrowed = await refresh(client, grant.body.refresh_token!, { scope: "a" });
    expect(narrowed).toMatchObject({ status: 200, body: { scope: "a" } });
    expect(await refresh(client, "rt_not-a-real-token")).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
    expect(await tokenRequest(client, { grant_type: "refresh_token" })).toMatchObject({ status: 400, body: { error: "invalid_request" } });
  });

  it("stop working when the client is deactivated, even after reactivation", async () => {
    const client = await registerClient(server, { name: "paused", scopes: ["a"], refreshTokensEnabled: true });
    const grant = await credentialsGrant(client);
    await adminApi(server).deactivateClient({ clientId: client.clientId }, auth);
    expect((await refresh(client, grant.body.refresh_token!)).body.error).toBe("invalid_client");
    await adminApi(server).reactivateClient({ clientId: client.clientId }, auth);
    expect(await refresh(client, grant.body.refresh_token!)).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
  });

  it("stop working when refresh tokens are turned off, even after they are turned on again", async () => {
    const client = await registerClient(server, { name: "toggled", scopes: ["a"], refreshTokensEnabled: true });
    const grant = await credentialsGrant(client);
    const update = (refreshTokensEnabled: boolean) =>
      adminApi(server).updateClient({ client: { clientId: client.clientId, refreshTokensEnabled }, updateMask: { paths: ["refresh_tokens_enabled"] } }, auth);
    await update(false);
    await update(true);
    expect(await refresh(client, grant.body.refresh_token!)).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
    // New grants get working refresh tokens again.
    const fresh = await credentialsGrant(client);
    expect(await refresh(client, fresh.body.refresh_token!)).toMatchObject({ status: 200 });
  });

  it("stop working when the client's secret rotation completes", async () => {
    const client = await registerClient(server, { name: "rotated", scopes: ["a"], refreshTokensEnabled: true });
    const grant = await credentialsGrant(client);
    const rotation = await adminApi(server).startSecretRotation({ clientId: client.clientId }, auth);
    await adminApi(server).completeSecretRotation({ clientId: client.clientId }, auth);
    const rotatedClient = { clientId: client.clientId, clientSecret: rotation.clientSecret };
    expect(await refresh(rotatedClient, grant.body.refresh_token!)).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
  });

  it("can be revoked at /oauth/revoke, which ends the chain", async () => {
    const client = await registerClient(server, { name: "revoker", scopes: ["a"], refreshTokensEnabled: true });
    const grant = await credentialsGrant(client);
    const revoked = await fetch(`${server.url}/oauth/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(client.clientId, client.clientSecret) },
      body: new URLSearchParams({ token: grant.body.refresh_token!, token_type_hint: "refresh_token" }),
    });
    expect(revoked.status).toBe(200);
    expect(await refresh(client, grant.body.refresh_token!)).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
  });

  it("work through TokenService.IssueToken with GRANT_TYPE_REFRESH_TOKEN", async () => {
    const client = await registerClient(server, { name: "grpc-refresher", scopes: ["a"], refreshTokensEnabled: true });
    const tokens = createClient(TokenService, createGrpcTransport({ baseUrl: server.url }));
    const first = await tokens.issueToken({ clientId: client.clientId, credential: { case: "clientSecret", value: client.clientSecret } });
    expect(first.refreshToken).toMatch(/^rt_/);
    const second = await tokens.issueToken({
      grantType: GrantType.REFRESH_TOKEN,
      clientId: client.clientId,
      credential: { case: "clientSecret", value: client.clientSecret },
      refreshToken: first.refreshToken,
    });
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(second.refreshToken).not.toBe(first.refreshToken);
  });
});
