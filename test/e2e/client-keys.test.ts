/**
 * The keys a client registers for private_key_jwt (RFC 7523 §2.2): registration over the admin
 * API refuses weak or unusable keys with INVALID_ARGUMENT, and an assertion that meets such a
 * key — one stored before these rules, written straight into the database — is invalid_client,
 * never a 500.
 */
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from "node:crypto";
import path from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminApi } from "../support/clients.js";
import { STORAGE_KINDS, startTestServer, type StorageKind, type TestServer } from "../support/test-server.js";

type Jwk = Record<string, unknown>;

function keyPair(type: "rsa" | "ec" | "ed25519" | "x25519", options: Record<string, unknown> = {}): { publicJwk: Jwk; privateKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync(type as "rsa", options as { modulusLength: number });
  return { publicJwk: publicKey.export({ format: "jwk" }) as Jwk, privateKey };
}

const rsa = (bits: number) => keyPair("rsa", { modulusLength: bits });
const ec = (namedCurve: string) => keyPair("ec", { namedCurve });

/** A JWT signed with node:crypto directly: jose itself refuses to sign with the weak keys under test. */
function assertion(options: { alg: string; privateKey: KeyObject; clientId: string; audience: string; kid?: string }): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const input = `${encode({ alg: options.alg, typ: "JWT", ...(options.kid ? { kid: options.kid } : {}) })}.${encode({
    iss: options.clientId,
    sub: options.clientId,
    aud: options.audience,
    jti: randomUUID(),
    iat: now,
    exp: now + 60,
  })}`;
  const digest = options.alg === "EdDSA" ? null : `sha${options.alg.slice(2)}`;
  const signature = sign(digest, Buffer.from(input), { key: options.privateKey, dsaEncoding: "ieee-p1363" });
  return `${input}.${signature.toString("base64url")}`;
}

async function postAssertion(server: TestServer, clientAssertion: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      client_assertion: clientAssertion,
    }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Replaces a client's stored JWKS behind the server's back, as rows written before these rules look. */
async function storeJwks(storage: StorageKind, server: TestServer, clientId: string, jwks: object): Promise<void> {
  const sql = `UPDATE clients SET jwks = $1::jsonb WHERE id = $2`;
  if (storage === "embedded") {
    const { PGlite } = await import("@electric-sql/pglite");
    const db = new PGlite(path.join(server.dataDir, "pglite"));
    await db.query(sql, [JSON.stringify(jwks), clientId]);
    await db.close();
  } else {
    const url = new URL(server.databaseUrl!);
    const schema = url.searchParams.get("schema")!;
    url.searchParams.delete("schema");
    const client = new pg.Client({ connectionString: url.toString(), options: `-c search_path=${schema}` });
    await client.connect();
    await client.query(sql, [JSON.stringify(jwks), clientId]);
    await client.end();
  }
}

describe.each(STORAGE_KINDS)("client keys for private_key_jwt on %s storage", (storage) => {
  let server: TestServer;
  let auth: { headers: { authorization: string } };

  beforeAll(async () => {
    server = await startTestServer({ storage });
    auth = { headers: { authorization: `Bearer ${await server.adminToken()}` } };
  });
  afterAll(async () => server?.destroy());

  async function createWithKeys(keys: Jwk[], clientId?: string): Promise<Code | "ok" | string> {
    try {
      await adminApi(server).createClient({ name: "keyed", scopes: ["a"], ...(clientId ? { clientId } : {}), jwks: { keys } as never }, auth);
      return "ok";
    } catch (error) {
      const failure = ConnectError.from(error);
      return failure.code === Code.InvalidArgument ? `invalid_argument: ${failure.rawMessage}` : failure.code;
    }
  }

  const rsa2048 = rsa(2048).publicJwk;
  const p256 = ec("prime256v1").publicJwk;
  const weakKeys: [string, () => Jwk | Jwk[], RegExp][] = [
    ["an RSA-512 key", () => rsa(512).publicJwk, /modulus of 2048 to 8192 bits \(this one has 512\)/],
    ["an RSA-1024 key", () => rsa(1024).publicJwk, /modulus of 2048 to 8192 bits \(this one has 1024\)/],
    ["an X25519 key", () => keyPair("x25519").publicJwk, /OKP keys must be Ed25519/],
    ["a secp256k1 key", () => ec("secp256k1").publicJwk, /EC keys must be on P-256, P-384 or P-521/],
    ["a key for encryption (use enc)", () => ({ ...rsa2048, use: "enc" }), /use must be "sig"/],
    ["a key whose key_ops are not verify", () => ({ ...p256, key_ops: ["verify", "encrypt"] }), /key_ops must be \["verify"\]/],
    ["an alg outside the assertion algorithms", () => ({ ...rsa2048, alg: "HS256" }), /alg must be one of RS256/],
    ["an alg that does not fit the key", () => ({ ...p256, alg: "ES384" }), /alg ES384 does not fit a EC key/],
    ["an RSA key for ES256", () => ({ ...rsa2048, alg: "ES256" }), /alg ES256 does not fit a RSA key/],
    ["a private key", () => keyPair("ec", { namedCurve: "prime256v1" }).privateKey.export({ format: "jwk" }) as Jwk, /public keys only/],
    ["a symmetric key", () => ({ kty: "oct", k: "c2VjcmV0" }), /public keys only/],
    ["eleven keys", () => Array.from({ length: 11 }, (_, index) => ({ ...p256, kid: `k${index}` })), /1 to 10 keys/],
    ["two keys under one kid", () => [{ ...p256, kid: "same" }, { ...rsa2048, kid: "same" }], /kid must not repeat/],
    ["a kid that is not a string", () => ({ ...p256, kid: 7 }), /kid must be a string/],
  ];

  it.each(weakKeys)("refuses %s at registration with INVALID_ARGUMENT naming the problem", async (_name, make, message) => {
    const made = make();
    const outcome = await createWithKeys(Array.isArray(made) ? made : [made]);
    expect(outcome).toMatch(/^invalid_argument: jwks: /);
    expect(outcome).toMatch(message);
  });

  it("refuses a weak key in UpdateClient too", async () => {
    const clientId = `update-keys-${storage}`;
    expect(await createWithKeys([p256], clientId)).toBe("ok");
    const update = adminApi(server).updateClient({ client: { clientId, jwks: { keys: [rsa(1024).publicJwk] } as never }, updateMask: { paths: ["jwks"] } }, auth);
    await expect(update).rejects.toMatchObject({ code: Code.InvalidArgument, rawMessage: expect.stringMatching(/^jwks: key 0: RSA keys must have a modulus of 2048/) });
  });

  it("registers RSA-2048, P-256, P-384, P-521 and Ed25519 keys with fitting use, key_ops and alg", async () => {
    expect(
      await createWithKeys([
        { ...rsa2048, kid: "rsa", use: "sig", alg: "PS256" },
        { ...p256, kid: "p256", key_ops: ["verify"], alg: "ES256" },
        { ...ec("secp384r1").publicJwk, kid: "p384", alg: "ES384" },
        { ...ec("secp521r1").publicJwk, kid: "p521" },
        { ...keyPair("ed25519").publicJwk, kid: "ed", alg: "EdDSA" },
      ]),
    ).toBe("ok");
  });

  it("answers invalid_client, never a 500, when an assertion meets a weak key stored before these rules", async () => {
    const good = ec("prime256v1");
    const cases = [
      { key: rsa(1024), alg: "RS256" },
      { key: rsa(512), alg: "RS256" },
      { key: ec("secp256k1"), alg: "ES256" },
      { key: keyPair("x25519"), alg: "EdDSA", signer: keyPair("ed25519").privateKey },
    ];
    const clientIds = cases.map((_, index) => `weak-key-${storage}-${index}`);
    for (const clientId of clientIds) expect(await createWithKeys([{ ...good.publicJwk, kid: "good" }], clientId)).toBe("ok");
    // The good key works before the swap.
    expect((await postAssertion(server, assertion({ alg: "ES256", privateKey: good.privateKey, clientId: clientIds[0]!, audience: server.config.issuer }))).status).toBe(200);

    await server.stop();
    for (const [index, { key }] of cases.entries()) {
      await storeJwks(storage, server, clientIds[index]!, { keys: [{ ...key.publicJwk, kid: "weak" }] });
    }
    server = await startTestServer({ storage, reuse: server });

    for (const [index, { key, alg, signer }] of cases.entries()) {
      for (const kid of ["weak", undefined]) {
        const signed = assertion({ alg, privateKey: signer ?? key.privateKey, clientId: clientIds[index]!, audience: server.config.issuer, ...(kid ? { kid } : {}) });
        const answer = await postAssertion(server, signed);
        expect({ index, kid, ...answer }).toEqual({ index, kid, status: 401, body: { error: "invalid_client", error_description: expect.any(String) } });
      }
    }
  });
});
