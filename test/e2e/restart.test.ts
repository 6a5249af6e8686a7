/**
 * What survives a restart: clients, their secrets and the signing keys — so tokens issued
 * before a restart still verify after it — and what must stop a start-up: a wrong KEK.
 */
import { randomBytes } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { ClientAdminService } from "../../src/gen/tessera/v1/client_admin_service_pb.js";
import { STORAGE_KINDS, basicAuthorization, startTestServer } from "../support/test-server.js";

async function tokenFor(url: string, clientId: string, clientSecret: string): Promise<string> {
  const response = await fetch(`${url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(clientId, clientSecret) },
    body: "grant_type=client_credentials",
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

describe.each(STORAGE_KINDS)("restarting Tessera on %s storage", (storage) => {
  it("keeps clients, secrets and signing keys", async () => {
    const first = await startTestServer({ storage });
    let second;
    try {
      const admin = createClient(ClientAdminService, createConnectTransport({ baseUrl: first.url, httpVersion: "1.1" }));
      const created = await admin.createClient(
        { name: "survivor", scopes: ["a"] },
        { headers: { authorization: `Bearer ${await first.adminToken()}` } },
      );
      const clientId = created.client!.clientId;
      const tokenBefore = await tokenFor(first.url, clientId, created.clientSecret);
      const keysBefore = await (await fetch(`${first.url}/keys`)).json();
      await first.stop();

      second = await startTestServer({ storage, reuse: first, env: { PORT: String(first.port), TESSERA_ISSUER: first.config.issuer } });
      expect(await (await fetch(`${second.url}/keys`)).json()).toEqual(keysBefore);
      const jwks = createRemoteJWKSet(new URL(`${second.url}/keys`));
      await expect(jwtVerify(tokenBefore, jwks, { issuer: first.config.issuer })).resolves.toBeTruthy();
      const tokenAfter = await tokenFor(second.url, clientId, created.clientSecret);
      const { payload } = await jwtVerify(tokenAfter, jwks, { issuer: first.config.issuer });
      expect(payload.client_id).toBe(clientId);
    } finally {
      await (second ?? first).destroy();
    }
  });
});

describe("the key-encryption key", () => {
  it("stops a start-up on PostgreSQL with a clear error when it is wrong", async () => {
    const first = await startTestServer({ storage: "postgres" });
    await first.stop();
    try {
      await expect(
        startTestServer({ storage: "postgres", reuse: first, env: { TESSERA_KEK: randomBytes(32).toString("base64") } }),
      ).rejects.toThrow(/wrong TESSERA_KEK/);
    } finally {
      await first.destroy();
    }
  });

  it("stores signing keys encrypted: the database holds no PKCS#8 private key", async () => {
    const server = await startTestServer({ storage: "postgres" });
    try {
      const pg = await import("pg");
      const url = new URL(server.databaseUrl!);
      const schema = url.searchParams.get("schema")!;
      url.searchParams.delete("schema");
      const db = new pg.default.Client({ connectionString: url.toString(), options: `-c search_path=${schema}` });
      await db.connect();
      const { rows } = await db.query<{ encrypted_private_key: Buffer; kek_id: string }>("SELECT encrypted_private_key, kek_id FROM signing_keys");
      await db.end();
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) {
        // An unencrypted PKCS#8 DER starts with SEQUENCE (0x30 0x82) and holds the rsaEncryption OID.
        expect(row.encrypted_private_key.includes(Buffer.from("2a864886f70d010101", "hex"))).toBe(false);
        expect(row.kek_id).toMatch(/^[A-Za-z0-9_-]{16}$/);
      }
    } finally {
      await server.destroy();
    }
  });
});
