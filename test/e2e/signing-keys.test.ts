/**
 * Signing keys over their whole life, with a controllable clock: published before they sign,
 * retired keys verifying until their tokens expire, on-demand rotation and emergency revocation,
 * a year of automatic rotation against a verifier that caches /keys, replicas agreeing on
 * PostgreSQL, and KEK rotation.
 */
import { statSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from "jose";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SigningAlgorithm } from "../../src/gen/tessera/v1/client_pb.js";
import { SigningKeyState } from "../../src/gen/tessera/v1/signing_key_pb.js";
import { adminApi, clientCredentialsToken, registerClient, type RegisteredClient } from "../support/clients.js";
import { basicAuthorization, startTestServer, TEST_KEK, type TestServer } from "../support/test-server.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

class Clock {
  constructor(public time = Date.parse("2027-01-01T00:00:00Z")) {}
  readonly now = () => new Date(this.time);
  advance(ms: number): void {
    this.time += ms;
  }
}

const tokenFor = clientCredentialsToken;

async function jwks(server: TestServer): Promise<JSONWebKeySet> {
  return (await (await fetch(`${server.url}/keys`)).json()) as JSONWebKeySet;
}

async function introspect(server: TestServer, token: string): Promise<boolean> {
  const response = await fetch(`${server.url}/oauth/introspect`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Bearer ${await server.adminToken("tessera:introspect")}` },
    body: new URLSearchParams({ token }),
  });
  return ((await response.json()) as { active: boolean }).active;
}

const kidsOf = (set: JSONWebKeySet, alg: string) => set.keys.filter((key) => key.alg === alg).map((key) => key.kid);

describe("signing key lifecycle (RS256 shown; every algorithm follows it)", () => {
  const clock = new Clock();
  let server: TestServer;
  let client: RegisteredClient;

  beforeAll(async () => {
    server = await startTestServer({ storage: "embedded", now: clock.now, env: { TESSERA_KEY_ROTATION_INTERVAL: "30d", TESSERA_JWKS_MAX_AGE: "5m" } });
    client = await registerClient(server, { name: "lifecycle", scopes: ["x"] });
  });
  afterAll(async () => server?.destroy());

  it("publishes the successor before it signs, retires the old key, and removes it after its last token expired", async () => {
    const response = await fetch(`${server.url}/keys`);
    expect(response.headers.get("cache-control")).toBe("public, max-age=300");
    const [firstKid] = kidsOf(await jwks(server), "RS256");
    const oldToken = await tokenFor(server, client);
    expect(decodeProtectedHeader(oldToken).kid).toBe(firstKid);

    // 30 days minus the publication lead (2 × 5 min + 10 s): the successor appears, unused.
    clock.advance(30 * DAY - 610_000);
    await server.maintain();
    const published = kidsOf(await jwks(server), "RS256");
    expect(published).toHaveLength(2);
    const successor = published.find((kid) => kid !== firstKid)!;
    expect(decodeProtectedHeader(await tokenFor(server, client)).kid).toBe(firstKid);

    // After the lead, the successor signs and the old key is retired but still published.
    clock.advance(610_000);
    await server.maintain();
    const afterSwitch = await tokenFor(server, client);
    expect(decodeProtectedHeader(afterSwitch).kid).toBe(successor);
    expect(kidsOf(await jwks(server), "RS256").sort()).toEqual([firstKid, successor].sort());
    const keys = await adminApi(server).listSigningKeys({}, { headers: { authorization: `Bearer ${await server.adminToken()}` } });
    const states = Object.fromEntries(keys.keys.filter((key) => key.algorithm === SigningAlgorithm.RS256).map((key) => [key.kid, key.state]));
    expect(states).toEqual({ [firstKid!]: SigningKeyState.RETIRED, [successor]: SigningKeyState.ACTIVE });
    expect(JSON.stringify(keys.keys, (_key, value: unknown) => (typeof value === "bigint" ? String(value) : value))).not.toMatch(/"d"|privateKey|encrypted/);

    // A token signed just before the switch still verifies with a JWKS fetched now.
    const preSwitch = await jwtVerify(afterSwitch, createLocalJWKSet(await jwks(server)), { currentDate: clock.now() });
    expect(preSwitch.payload.client_id).toBe(client.clientId);

    // Past the longest token lifetime (1 day) plus skew, the retired key is gone.
    clock.advance(DAY + 61_000);
    await server.maintain();
    expect(kidsOf(await jwks(server), "RS256")).toEqual([successor]);
    expect(await introspect(server, oldToken)).toBe(false);
  });

  it("rotates on demand: RotateSigningKey publishes a next key that signs after the publication lead", async () => {
    const auth = { headers: { authorization: `Bearer ${await server.adminToken()}` } };
    const { key } = await adminApi(server).rotateSigningKey({ algorithm: SigningAlgorithm.ES256 }, auth);
    expect(key).toMatchObject({ algorithm: SigningAlgorithm.ES256, state: SigningKeyState.NEXT });
    expect(kidsOf(await jwks(server), "ES256")).toContain(key!.kid);
    const again = await adminApi(server).rotateSigningKey({ algorithm: SigningAlgorithm.ES256 }, auth).catch((error: unknown) => error);
    expect((again as ConnectError).code).toBe(Code.FailedPrecondition);
    const esClient = await registerClient(server, { name: "es", scopes: ["x"], signingAlgorithm: SigningAlgorithm.ES256 });
    expect(decodeProtectedHeader(await tokenFor(server, esClient)).kid).not.toBe(key!.kid);
    clock.advance(611_000);
    await server.maintain();
    expect(decodeProtectedHeader(await tokenFor(server, esClient)).kid).toBe(key!.kid);
    // No algorithm: the server default's (RS256) key rotates.
    const defaultRotation = await adminApi(server).rotateSigningKey({}, auth);
    expect(defaultRotation.key!.algorithm).toBe(SigningAlgorithm.RS256);
  });

  it("revokes a compromised key at once: gone from /keys, its tokens inactive, a new key signing", async () => {
    const auth = { headers: { authorization: `Bearer ${await server.adminToken()}` } };
    const edClient = await registerClient(server, { name: "ed", scopes: ["x"], signingAlgorithm: SigningAlgorithm.EDDSA });
    const token = await tokenFor(server, edClient);
    const compromised = decodeProtectedHeader(token).kid!;
    expect(await introspect(server, token)).toBe(true);
    const { key } = await adminApi(server).revokeSigningKey({ kid: compromised }, auth);
    expect(key!.state).toBe(SigningKeyState.REVOKED);
    expect(kidsOf(await jwks(server), "EdDSA")).not.toContain(compromised);
    expect(await introspect(server, token)).toBe(false);
    const fresh = await tokenFor(server, edClient);
    expect(decodeProtectedHeader(fresh).kid).not.toBe(compromised);
    expect(await introspect(server, fresh)).toBe(true);
    const events = await adminApi(server).listAuditEvents({ pageSize: 10 }, auth);
    expect(events.events.map((event) => event.action)).toEqual(expect.arrayContaining(["key.revoke", "key.rotate"]));
    expect((await adminApi(server).revokeSigningKey({ kid: "no-such-kid" }, auth).catch((error: unknown) => error) as ConnectError).code).toBe(Code.NotFound);
  });
});

describe("a year of automatic rotation", () => {
  it("never fails a verifier that caches /keys for its max-age on a valid token", async () => {
    const clock = new Clock();
    // Weekly rotation and a one-day JWKS cache: keys change while verifiers hold stale copies.
    const server = await startTestServer({ storage: "embedded", now: clock.now, env: { TESSERA_KEY_ROTATION_INTERVAL: "7d", TESSERA_JWKS_MAX_AGE: "1d" } });
    try {
      const rsa = await registerClient(server, { name: "year-rsa", scopes: ["x"], tokenLifetime: { seconds: 5n * 3600n } });
      const ec = await registerClient(server, { name: "year-ec", scopes: ["x"], signingAlgorithm: SigningAlgorithm.ES256, tokenLifetime: { seconds: 5n * 3600n } });
      let cache = { set: await jwks(server), fetchedAt: clock.time };
      const seenKids = new Set<string>();
      let previous: string[] = [];
      let maxPublished = 0;
      for (let step = 0; step < (365 * 24) / 4; step++) {
        clock.advance(4 * HOUR);
        await server.maintain();
        // The worst verifier: refetches only when its copy is older than max-age, never on an unknown kid.
        if (clock.time - cache.fetchedAt >= DAY) cache = { set: await jwks(server), fetchedAt: clock.time };
        const tokens = [await tokenFor(server, rsa), await tokenFor(server, ec)];
        const keySet = createLocalJWKSet(cache.set);
        // This step's tokens, and the previous step's (issued 4 h ago, valid for 5 h).
        for (const token of [...tokens, ...previous]) {
          await jwtVerify(token, keySet, { currentDate: clock.now(), issuer: server.config.issuer });
        }
        for (const token of tokens) seenKids.add(decodeProtectedHeader(token).kid!);
        maxPublished = Math.max(maxPublished, cache.set.keys.length);
        previous = tokens;
      }
      // About 52 rotations per algorithm, and /keys never grows beyond retired + active + next.
      expect(seenKids.size).toBeGreaterThanOrEqual(2 * 50);
      expect(maxPublished).toBeLessThanOrEqual(4 * 3);
    } finally {
      await server.destroy();
    }
  }, 300_000);
});

describe("replicas on one PostgreSQL", () => {
  it("make exactly one rotation when racing, then sign with the same key and publish the same /keys", async () => {
    const clock = new Clock();
    const env = { TESSERA_KEY_ROTATION_INTERVAL: "30d", TESSERA_JWKS_MAX_AGE: "5m" };
    const first = await startTestServer({ storage: "postgres", now: clock.now, env });
    const second = await startTestServer({ storage: "postgres", now: clock.now, env, reuse: first });
    try {
      expect(await jwks(second)).toEqual(await jwks(first));
      clock.advance(30 * DAY);
      await Promise.all([first.maintain(), second.maintain(), first.maintain(), second.maintain()]);
      await Promise.all([first.maintain(), second.maintain()]);
      const db = new pg.Client({ connectionString: first.databaseUrl!.replace(/\?schema=.*/, ""), options: `-c search_path=${new URL(first.databaseUrl!).searchParams.get("schema")}` });
      await db.connect();
      const { rows } = await db.query<{ alg: string; count: string }>(`SELECT alg, count(*)::text AS count FROM signing_keys WHERE state = 'next' GROUP BY alg ORDER BY alg`);
      await db.end();
      expect(rows).toEqual(["ES256", "EdDSA", "PS256", "RS256"].map((alg) => ({ alg, count: "1" })));
      clock.advance(611_000);
      await first.maintain();
      await second.maintain();
      expect(await jwks(second)).toEqual(await jwks(first));
      const client = await registerClient(first, { name: "replicated", scopes: ["x"] });
      const fromFirst = decodeProtectedHeader(await tokenFor(first, client)).kid;
      // The second replica learns of the new client through the change feed, within its bound.
      await expect.poll(async () => (await fetch(`${second.url}/oauth/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(client.clientId, client.clientSecret) }, body: "grant_type=client_credentials" })).status, { timeout: 5_000 }).toBe(200);
      const fromSecond = decodeProtectedHeader(await tokenFor(second, client)).kid;
      expect(fromSecond).toBe(fromFirst);
    } finally {
      await first.stop();
      await second.destroy();
    }
  });
});

describe("the key-encryption key", () => {
  it("rotates: with TESSERA_KEK_PREVIOUS the keys are re-encrypted under the new KEK, which then works alone", async () => {
    const first = await startTestServer({ storage: "postgres" });
    const keysBefore = await jwks(first);
    await first.stop();
    const newKek = randomBytes(32).toString("base64");
    const rotated = await startTestServer({ storage: "postgres", reuse: first, env: { TESSERA_KEK: newKek, TESSERA_KEK_PREVIOUS: TEST_KEK } });
    await rotated.stop();
    const alone = await startTestServer({ storage: "postgres", reuse: first, env: { TESSERA_KEK: newKek } });
    try {
      expect(await jwks(alone)).toEqual(keysBefore);
    } finally {
      await alone.destroy();
    }
  });

  it("is generated on the embedded database into the data directory with mode 0600", async () => {
    const server = await startTestServer({ storage: "embedded" });
    try {
      expect(statSync(path.join(server.dataDir, "tessera.kek")).mode & 0o777).toBe(0o600);
    } finally {
      await server.destroy();
    }
  });
});
