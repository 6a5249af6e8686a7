/**
 * Clients that publish their private_key_jwt keys at a URL (RFC 7591 §2 `jwks_uri`) instead of
 * registering them: registration rules, authentication against keys fetched over HTTPS from a
 * server whose CA is trusted through NODE_EXTRA_CA_CERTS, a key rotation picked up without
 * restart, and a replayed assertion refused.
 */
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertionKey, signClientAssertion, tokenWithAssertion } from "../support/client-assertions.js";
import { adminApi, codeOf } from "../support/clients.js";
import { startFakeServer, type FakeServer } from "../support/fake-issuer.js";
import { STORAGE_KINDS, startTestServer, type TestServer } from "../support/test-server.js";

describe.each(STORAGE_KINDS)("clients registered with a jwks_uri on %s storage", (storage) => {
  let server: TestServer;
  let keys: FakeServer;
  let auth: { headers: { authorization: string } };

  beforeAll(async () => {
    [server, keys] = await Promise.all([startTestServer({ storage }), startFakeServer()]);
    auth = { headers: { authorization: `Bearer ${await server.adminToken()}` } };
  });

  afterAll(async () => {
    await Promise.all([server?.destroy(), keys?.close()]);
  });

  it("authenticates with private_key_jwt against the published keys, picks up a new key, and refuses a replay", async () => {
    const one = assertionKey("one");
    keys.json("/client/jwks", { keys: [one.publicJwk] }, "max-age=300");
    const created = await adminApi(server).createClient({ name: "by url", scopes: ["read"], jwksUri: `${keys.origin}/client/jwks` }, auth);
    expect(created.client!.jwksUri).toBe(`${keys.origin}/client/jwks`);
    const clientId = created.client!.clientId;
    const audience = server.config.issuer;

    const first = await signClientAssertion({ key: one, clientId, audience });
    const issued = await tokenWithAssertion(server.url, first);
    expect(issued.status).toBe(200);
    expect(issued.body.access_token).toEqual(expect.any(String));

    const replayed = await tokenWithAssertion(server.url, first);
    expect(replayed.status).toBe(401);
    expect(replayed.body.error).toBe("invalid_client");

    // The client rotates: its new key is fetched on first sight of the new kid.
    const two = assertionKey("two");
    keys.json("/client/jwks", { keys: [one.publicJwk, two.publicJwk] }, "max-age=300");
    const fetchesBefore = keys.hitsOf("/client/jwks");
    expect((await tokenWithAssertion(server.url, await signClientAssertion({ key: two, clientId, audience }))).status).toBe(200);
    expect(keys.hitsOf("/client/jwks")).toBe(fetchesBefore + 1);
    // Known kids are answered from memory.
    expect((await tokenWithAssertion(server.url, await signClientAssertion({ key: one, clientId, audience }))).status).toBe(200);
    expect(keys.hitsOf("/client/jwks")).toBe(fetchesBefore + 1);

    // Each fetch is counted by where the keys come from and how it ended, never by URL.
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^tessera_federation_key_fetches_total\{source="client_jwks_uri",outcome="success"\} 2$/m);
  });

  it("refuses an assertion signed by a key the client does not publish", async () => {
    const published = assertionKey("published");
    keys.json("/other/jwks", { keys: [published.publicJwk] });
    const created = await adminApi(server).createClient({ name: "by url 2", scopes: ["read"], jwksUri: `${keys.origin}/other/jwks` }, auth);
    const forged = await signClientAssertion({ key: { ...assertionKey("published"), kid: "published" }, clientId: created.client!.clientId, audience: server.config.issuer });
    const answer = await tokenWithAssertion(server.url, forged);
    expect(answer.status).toBe(401);
    expect(answer.body.error).toBe("invalid_client");
  });

  it("refuses at registration a jwks_uri together with jwks, or one that is not an absolute https URL", async () => {
    const api = adminApi(server);
    const jwks = { keys: [assertionKey("k").publicJwk] };
    expect(await codeOf(api.createClient({ name: "both", jwks, jwksUri: `${keys.origin}/client/jwks` }, auth))).toBe(Code.InvalidArgument);
    expect(await codeOf(api.createClient({ name: "plain", jwksUri: "http://127.0.0.1/jwks" }, auth))).toBe(Code.InvalidArgument);
    expect(await codeOf(api.createClient({ name: "relative", jwksUri: "/jwks" }, auth))).toBe(Code.InvalidArgument);
    // Switching an inline-keys client to a URL takes both fields in one update.
    const inline = await api.createClient({ name: "inline", jwks }, auth);
    const clientId = inline.client!.clientId;
    expect(await codeOf(api.updateClient({ client: { clientId, jwksUri: `${keys.origin}/client/jwks` }, updateMask: { paths: ["jwks_uri"] } }, auth))).toBe(
      Code.InvalidArgument,
    );
    const switched = await api.updateClient({ client: { clientId, jwksUri: `${keys.origin}/client/jwks` }, updateMask: { paths: ["jwks", "jwks_uri"] } }, auth);
    expect(switched.client!.jwksUri).toBe(`${keys.origin}/client/jwks`);
    expect(switched.client!.jwks).toBeUndefined();
  });
});
