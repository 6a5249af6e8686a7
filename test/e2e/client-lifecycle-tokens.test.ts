/**
 * A client's access tokens across its lifecycle, on both storages: tokens issued before the
 * client was deleted and created again, deactivated and reactivated, or revived from expiry stay
 * inactive everywhere a token is checked (RFC 7662 introspection, AuthenticateToken, the admin
 * API), while tokens issued afterwards work. Each test runs its changes right after the tokens
 * they must end, mostly within the same second: the case whole-second `iat` values make hardest.
 */
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IntrospectionService } from "../../src/gen/tessera/v1/introspection_service_pb.js";
import { adminApi, clientCredentialsToken, codeOf, type RegisteredClient } from "../support/clients.js";
import { STORAGE_KINDS, startTestServer, type TestServer } from "../support/test-server.js";

/** The real clock, which a test can move ahead, or hold at an instant of its choosing. */
class Clock {
  private offset = 0;
  private held: number | undefined;
  readonly now = () => new Date(this.held ?? Date.now() + this.offset);
  advance(ms: number): void {
    if (this.held !== undefined) this.held += ms;
    else this.offset += ms;
  }
  /** Holds the clock at the start of the next whole second plus `ms`. */
  holdInNextSecond(ms: number): number {
    this.held = (Math.floor(this.now().getTime() / 1000) + 1) * 1000 + ms;
    return this.held;
  }
  /** Runs on from where it was held. */
  release(): void {
    if (this.held !== undefined) this.offset = this.held - Date.now();
    this.held = undefined;
  }
}

describe.each(STORAGE_KINDS)("access tokens across a client's lifecycle on %s storage", (storage) => {
  const clock = new Clock();
  let server: TestServer;
  let auth: { headers: { authorization: string } };
  const api = () => adminApi(server);

  beforeAll(async () => {
    server = await startTestServer({ storage, now: clock.now });
    auth = { headers: { authorization: `Bearer ${await server.adminToken()}` } };
  });
  afterAll(async () => server?.destroy());

  async function introspect(token: string): Promise<boolean> {
    const response = await fetch(`${server.url}/oauth/introspect`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: auth.headers.authorization },
      body: new URLSearchParams({ token }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { active: boolean }).active;
  }

  const authenticateToken = (token: string) =>
    codeOf(createClient(IntrospectionService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" })).authenticateToken({ token }, auth));

  /** Whether the token opens the admin API (it must carry tessera:admin for Tessera itself). */
  const adminCall = (token: string) => codeOf(api().listClients({ pageSize: 1 }, { headers: { authorization: `Bearer ${token}` } }));

  async function create(clientId: string, scopes: string[], extra: Record<string, unknown> = {}): Promise<RegisteredClient> {
    const created = await api().createClient({ clientId, name: clientId, scopes, ...extra }, auth);
    return { clientId, clientSecret: created.clientSecret };
  }

  it("keeps a deleted client's tokens inactive when a client is created again under the same id", async () => {
    const first = await create(`reborn-${storage}`, ["tessera:admin", "ops:x"]);
    const oldToken = await clientCredentialsToken(server, first);
    expect(await introspect(oldToken)).toBe(true);
    expect(await adminCall(oldToken)).toBe("ok");

    await api().deleteClient({ clientId: first.clientId }, auth);
    const second = await create(first.clientId, ["tessera:admin", "ops:x"]);

    expect(await introspect(oldToken)).toBe(false);
    expect(await authenticateToken(oldToken)).toBe(Code.Unauthenticated);
    expect(await adminCall(oldToken)).toBe(Code.Unauthenticated);
    const newToken = await clientCredentialsToken(server, second);
    expect(await introspect(newToken)).toBe(true);
    expect(await authenticateToken(newToken)).toBe("ok");
    expect(await adminCall(newToken)).toBe("ok");
  });

  it("keeps tokens issued before a deactivation inactive after the client is reactivated, and new tokens work", async () => {
    const client = await create(`paused-${storage}`, ["tessera:admin"]);
    const oldToken = await clientCredentialsToken(server, client);
    expect(await adminCall(oldToken)).toBe("ok");

    await api().deactivateClient({ clientId: client.clientId }, auth);
    expect(await introspect(oldToken)).toBe(false);
    await api().reactivateClient({ clientId: client.clientId }, auth);

    expect(await introspect(oldToken)).toBe(false);
    expect(await authenticateToken(oldToken)).toBe(Code.Unauthenticated);
    expect(await adminCall(oldToken)).toBe(Code.Unauthenticated);
    const newToken = await clientCredentialsToken(server, client);
    const claims = decodeJwt(newToken);
    // Not dated ahead to get past the cut-off: a verifier without clock tolerance accepts it at once.
    expect(claims.iat).toBeLessThanOrEqual(Math.floor(clock.now().getTime() / 1000));
    expect(claims.nbf).toBe(claims.iat);
    expect(claims.exp! - claims.iat!).toBe(3600);
    expect(await introspect(newToken)).toBe(true);
    expect(await authenticateToken(newToken)).toBe("ok");
    expect(await adminCall(newToken)).toBe("ok");
  });

  it("tells a token issued just before a deactivation from one issued just after the reactivation in the same second", async () => {
    const client = await create(`same-second-${storage}`, ["ops:x"]);
    clock.holdInNextSecond(100);
    try {
      const before = await clientCredentialsToken(server, client);
      clock.advance(100);
      await api().deactivateClient({ clientId: client.clientId }, auth);
      clock.advance(100);
      await api().reactivateClient({ clientId: client.clientId }, auth);
      clock.advance(100);
      const after = await clientCredentialsToken(server, client);
      expect(decodeJwt(after).iat).toBe(decodeJwt(before).iat);
      expect(await introspect(before)).toBe(false);
      expect(await introspect(after)).toBe(true);
    } finally {
      clock.release();
    }
  });

  it("tells a deleted client's token from its successor's issued in the same second", async () => {
    const first = await create(`same-second-reborn-${storage}`, ["ops:x"]);
    clock.holdInNextSecond(100);
    try {
      const before = await clientCredentialsToken(server, first);
      clock.advance(100);
      await api().deleteClient({ clientId: first.clientId }, auth);
      clock.advance(100);
      const second = await create(first.clientId, ["ops:x"]);
      clock.advance(100);
      const after = await clientCredentialsToken(server, second);
      expect(decodeJwt(after).iat).toBe(decodeJwt(before).iat);
      expect(await introspect(before)).toBe(false);
      expect(await introspect(after)).toBe(true);
    } finally {
      clock.release();
    }
  });

  it("keeps tokens dead when an expired client's expiry is renewed", async () => {
    const client = await create(`renewed-${storage}`, ["ops:x"], { expireTime: timestampFromDate(new Date(clock.now().getTime() + 60_000)) });
    const oldToken = await clientCredentialsToken(server, client);
    expect(await introspect(oldToken)).toBe(true);
    clock.advance(61_000);
    expect(await introspect(oldToken)).toBe(false);

    await api().updateClient({ client: { clientId: client.clientId }, updateMask: { paths: ["expire_time"] } }, auth);

    expect(await introspect(oldToken)).toBe(false);
    expect(await introspect(await clientCredentialsToken(server, client))).toBe(true);
  });

  it("leaves tokens active across other changes: name, added scopes, a completed secret rotation", async () => {
    const client = await create(`steady-${storage}`, ["ops:x"]);
    const token = await clientCredentialsToken(server, client);
    await api().updateClient({ client: { clientId: client.clientId, name: "renamed" }, updateMask: { paths: ["name"] } }, auth);
    await api().updateClient({ client: { clientId: client.clientId, scopes: ["ops:x", "ops:y"] }, updateMask: { paths: ["scopes"] } }, auth);
    await api().startSecretRotation({ clientId: client.clientId }, auth);
    await api().completeSecretRotation({ clientId: client.clientId }, auth);
    expect(await introspect(token)).toBe(true);
  });
});
