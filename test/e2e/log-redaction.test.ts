/**
 * Logs never carry secrets, tokens or assertions. One server logs at trace level through a full
 * working session — clients created, imported and rotated, tokens issued, refreshed,
 * introspected and revoked, wrong secrets and bad assertions refused, over HTTP and gRPC — and
 * every secret material seen on the wire is then searched for in the logs.
 */
import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IntrospectionService } from "../../src/gen/tessera/v1/introspection_service_pb.js";
import { TokenService } from "../../src/gen/tessera/v1/token_service_pb.js";
import { adminApi, registerClient } from "../support/clients.js";
import { ADMIN_CLIENT, basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";

let logs = "";
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    logs += chunk.toString("utf8");
    done();
  },
});
let server: TestServer;
const secrets = new Set<string>([ADMIN_CLIENT.clientSecret]);

beforeAll(async () => {
  server = await startTestServer({ storage: "embedded", env: { TESSERA_LOG_LEVEL: "trace" }, logDestination: sink });
});
afterAll(async () => server?.destroy());

async function form(path: string, body: Record<string, string>, authorization?: string) {
  const response = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...(authorization ? { authorization } : {}) },
    body: new URLSearchParams(body),
  });
  const text = await response.text();
  return text ? (JSON.parse(text) as Record<string, string>) : {};
}

describe("logs", () => {
  it("hold no secret, token or assertion from a full session", async () => {
    const adminToken = await server.adminToken();
    secrets.add(adminToken);
    const auth = { headers: { authorization: `Bearer ${adminToken}` } };

    const client = await registerClient(server, { name: "logged", scopes: ["a"], refreshTokensEnabled: true, audiences: ["https://api.example"] });
    secrets.add(client.clientSecret);
    const granted = await form("/oauth/token", { grant_type: "client_credentials" }, basicAuthorization(client.clientId, client.clientSecret));
    secrets.add(granted.access_token!).add(granted.refresh_token!);
    const refreshed = await form("/oauth/token", { grant_type: "refresh_token", refresh_token: granted.refresh_token! }, basicAuthorization(client.clientId, client.clientSecret));
    secrets.add(refreshed.access_token!).add(refreshed.refresh_token!);

    const wrongSecret = `wrong-${randomUUID()}`;
    secrets.add(wrongSecret);
    await form("/oauth/token", { grant_type: "client_credentials", client_id: client.clientId, client_secret: wrongSecret });

    const rotation = await adminApi(server).startSecretRotation({ clientId: client.clientId }, auth);
    secrets.add(rotation.clientSecret);
    await adminApi(server).completeSecretRotation({ clientId: client.clientId }, auth);

    const importedSecret = `Imported-${randomUUID()}-Secret`;
    secrets.add(importedSecret);
    await adminApi(server).importClient({ client: { clientId: "imported-logged", name: "imported" }, clientSecret: importedSecret }, auth);
    await adminApi(server).importClient({ client: { clientId: "imported-weak", name: "weak" }, clientSecret: "short-and-weak" }, auth).catch(() => {});
    secrets.add("short-and-weak");

    const pair = await generateKeyPair("ES256");
    const keyed = await registerClient(server, { name: "keyed", scopes: ["a"], jwks: { keys: [{ ...(await exportJWK(pair.publicKey)), kid: "k" }] } });
    secrets.add(keyed.clientSecret);
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg: "ES256", kid: "k" })
      .setIssuer(keyed.clientId).setSubject(keyed.clientId).setAudience(server.config.issuer).setIssuedAt(now).setExpirationTime(now + 60)
      .sign(pair.privateKey);
    secrets.add(assertion);
    const viaAssertion = await form("/oauth/token", { grant_type: "client_credentials", client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: assertion });
    secrets.add(viaAssertion.access_token!);
    await form("/oauth/token", { grant_type: "client_credentials", client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: assertion });

    const introspector = await server.adminToken("tessera:introspect");
    secrets.add(introspector);
    await form("/oauth/introspect", { token: refreshed.access_token! }, `Bearer ${introspector}`);
    await form("/oauth/revoke", { token: refreshed.access_token! }, basicAuthorization(client.clientId, rotation.clientSecret));

    const tokens = createClient(TokenService, createGrpcTransport({ baseUrl: server.url }));
    const grpcToken = await tokens.issueToken({ clientId: client.clientId, credential: { case: "clientSecret", value: rotation.clientSecret } });
    secrets.add(grpcToken.accessToken).add(grpcToken.refreshToken);
    await tokens.issueToken({ clientId: client.clientId, credential: { case: "clientSecret", value: wrongSecret } }).catch(() => {});
    await createClient(IntrospectionService, createGrpcTransport({ baseUrl: server.url }))
      .authenticateToken({ token: grpcToken.accessToken, requiredScopes: ["nope"] }, { headers: { authorization: `Bearer ${introspector}` } })
      .catch(() => {});

    await new Promise((resolve) => setTimeout(resolve, 200));
    const lines = logs.trim().split("\n");
    expect(lines.length).toBeGreaterThan(25);
    expect(logs).toContain('"requestId"');
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(8);
      expect(logs.includes(secret), `a secret of length ${secret.length} appears in the logs`).toBe(false);
      // Not even a JWT's signature or a secret's distinctive half.
      expect(logs.includes(secret.slice(-20)), `the tail of a secret appears in the logs`).toBe(false);
    }
  });
});
