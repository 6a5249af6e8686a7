/**
 * The verifier's JWKS cache against a JWKS served from a tiny local server, so keys can appear
 * and disappear at will: Cache-Control max-age (bounded), ETag revalidation, one refetch for an
 * unknown kid and at most one per cooldown however many such tokens arrive, shared fetches, and
 * stale keys while the endpoint is down. The clock is the test's.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createVerifier, RemoteKeySet, VerifierError, type Verifier } from "tessera/verifier";

const ISSUER = "https://tessera.test";
const AUDIENCE = "payments-api";

interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

async function signingKey(kid: string, alg: "RS256" | "ES256" = "ES256"): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

function accessToken(key: SigningKey, options: { kid?: string; alg?: string } = {}): Promise<string> {
  return new SignJWT({ client_id: "worker", scope: "pay:read", jti: crypto.randomUUID() })
    .setProtectedHeader({ alg: options.alg ?? key.jwk.alg!, typ: "at+jwt", kid: options.kid ?? key.kid })
    .setIssuer(ISSUER).setSubject("worker").setAudience(AUDIENCE).setIssuedAt().setExpirationTime("2h")
    .sign(key.privateKey);
}

/** GET /keys with Cache-Control and ETag, answering If-None-Match with 304; counts requests. */
class JwksServer {
  keys: JWK[] = [];
  cacheControl: string | undefined = "public, max-age=300";
  failing = false;
  delayMs = 0;
  readonly requests: { ifNoneMatch: string | undefined; status: number }[] = [];
  #server = http.createServer((request, response) => void this.#answer(request, response));

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/keys`;
  }

  async #answer(request: http.IncomingMessage, response: http.ServerResponse) {
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    const body = JSON.stringify({ keys: this.keys });
    const etag = `"${Buffer.from(body).toString("base64url").slice(-16)}-${body.length}"`;
    const ifNoneMatch = request.headers["if-none-match"];
    const status = this.failing ? 500 : ifNoneMatch === etag ? 304 : 200;
    this.requests.push({ ifNoneMatch, status });
    const headers: Record<string, string> = { etag, ...(this.cacheControl ? { "cache-control": this.cacheControl } : {}) };
    if (status === 200) response.writeHead(200, { ...headers, "content-type": "application/jwk-set+json" }).end(body);
    else response.writeHead(status, headers).end();
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

describe("the verifier's JWKS cache", () => {
  const jwks = new JwksServer();
  let clock: number;
  let keyA: SigningKey;
  let keyB: SigningKey;
  let rsaKey: SigningKey;

  const advance = (seconds: number) => {
    clock += seconds * 1000;
  };
  const verifierFor = (options: { cooldownSeconds?: number } = {}): Verifier =>
    createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUri: jwks.url, now: () => new Date(clock), jwks: options });
  const refusal = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error as VerifierError);

  beforeAll(async () => {
    [keyA, keyB, rsaKey] = await Promise.all([signingKey("key-a"), signingKey("key-b"), signingKey("key-rsa", "RS256")]);
    await jwks.listen();
  });
  afterAll(() => jwks.close());
  beforeEach(() => {
    clock = Date.now();
    jwks.keys = [keyA.jwk, rsaKey.jwk];
    jwks.cacheControl = "public, max-age=300";
    jwks.failing = false;
    jwks.delayMs = 0;
    jwks.requests.length = 0;
  });

  it("keeps the JWKS for max-age, then revalidates it with If-None-Match", async () => {
    jwks.cacheControl = "public, max-age=120";
    const verifier = verifierFor();
    const token = await accessToken(keyA);
    await verifier.verify(token);
    advance(119);
    await verifier.verify(token);
    expect(jwks.requests).toHaveLength(1);
    advance(2);
    await verifier.verify(token);
    expect(jwks.requests).toEqual([
      { ifNoneMatch: undefined, status: 200 },
      { ifNoneMatch: expect.stringMatching(/^".+"$/), status: 304 },
    ]);
    // The 304 renewed the lifetime.
    advance(119);
    await verifier.verify(token);
    expect(jwks.requests).toHaveLength(2);
  });

  it.each([
    ["no-store", 30, "no-store"],
    ["max-age=0", 30, "max-age=0"],
    ["a year", 3600, "public, max-age=31536000"],
    ["no Cache-Control", 300, undefined],
  ])("bounds the cache lifetime (%s → %i s)", async (_name, expectedSeconds, cacheControl) => {
    jwks.cacheControl = cacheControl;
    const verifier = verifierFor();
    const token = await accessToken(keyA);
    await verifier.verify(token);
    advance(expectedSeconds - 1);
    await verifier.verify(token);
    expect(jwks.requests).toHaveLength(1);
    advance(2);
    await verifier.verify(token);
    expect(jwks.requests).toHaveLength(2);
  });

  it("refetches exactly once for a token whose kid it has not seen, and then knows the key", async () => {
    const verifier = verifierFor();
    await verifier.verify(await accessToken(keyA));
    // Tessera published key-b after our fetch (key withdrawn and replaced at once).
    jwks.keys = [keyA.jwk, keyB.jwk, rsaKey.jwk];
    advance(31);
    const tokenB = await accessToken(keyB);
    expect((await verifier.verify(tokenB)).keyId).toBe("key-b");
    expect(jwks.requests).toHaveLength(2);
    await verifier.verify(tokenB);
    await verifier.verify(await accessToken(keyA));
    expect(jwks.requests).toHaveLength(2);
  });

  it("does not refetch for an unknown kid within the cooldown after a fetch", async () => {
    const verifier = verifierFor();
    await verifier.verify(await accessToken(keyA));
    jwks.keys = [keyA.jwk, keyB.jwk];
    advance(29);
    expect(await refusal(verifier.verify(await accessToken(keyB)))).toMatchObject({ code: "invalid_token", message: "the token is signed with an unknown key" });
    expect(jwks.requests).toHaveLength(1);
    advance(2);
    expect((await verifier.verify(await accessToken(keyB))).keyId).toBe("key-b");
    expect(jwks.requests).toHaveLength(2);
  });

  it("makes at most one request per cooldown for a burst of tokens with made-up kids", async () => {
    const verifier = verifierFor({ cooldownSeconds: 30 });
    await verifier.verify(await accessToken(keyA));
    const forged = await Promise.all(Array.from({ length: 100 }, (_, index) => accessToken(keyA, { kid: `made-up-${index}` })));
    for (let round = 1; round <= 3; round += 1) {
      advance(31);
      const burst = await Promise.all(forged.map((token) => refusal(verifier.verify(token))));
      expect(burst.every((error) => error?.code === "invalid_token")).toBe(true);
      // …and the same burst again, one after the other, within the cooldown.
      for (const token of forged.slice(0, 20)) expect(await refusal(verifier.verify(token))).toMatchObject({ code: "invalid_token" });
      expect(jwks.requests).toHaveLength(1 + round);
    }
    // Real keys kept working throughout.
    expect((await verifier.verify(await accessToken(keyA))).keyId).toBe("key-a");
  });

  it("shares one fetch among concurrent verifications on a cold cache", async () => {
    jwks.delayMs = 100;
    const verifier = verifierFor();
    const token = await accessToken(keyA);
    const results = await Promise.all(Array.from({ length: 50 }, () => verifier.verify(token)));
    expect(results).toHaveLength(50);
    expect(jwks.requests).toHaveLength(1);
  });

  it("refuses a known kid used with an algorithm its key is not for, without refetching", async () => {
    const verifier = verifierFor();
    await verifier.verify(await accessToken(keyA));
    advance(31);
    // Signed with an EC key but claiming the RSA key's kid.
    const confused = await accessToken(keyA, { kid: "key-rsa" });
    expect(await refusal(verifier.verify(confused))).toMatchObject({ code: "invalid_token", message: "the token's algorithm does not fit its key" });
    expect(jwks.requests).toHaveLength(1);
  });

  it("keeps verifying with stale keys while the endpoint fails, and asks again only after the cooldown", async () => {
    const verifier = verifierFor();
    const token = await accessToken(keyA);
    await verifier.verify(token);
    jwks.failing = true;
    advance(301);
    expect((await verifier.verify(token)).keyId).toBe("key-a");
    advance(10);
    await verifier.verify(token);
    expect(jwks.requests.map((request) => request.status)).toEqual([200, 500]);
    advance(25);
    jwks.failing = false;
    await verifier.verify(token);
    expect(jwks.requests.map((request) => request.status)).toEqual([200, 500, 304]);
  });

  it("answers temporarily_unavailable while it has never had keys", async () => {
    jwks.failing = true;
    const verifier = verifierFor();
    expect(await refusal(verifier.verify(await accessToken(keyA)))).toMatchObject({ code: "temporarily_unavailable" });
    jwks.failing = false;
    expect((await verifier.verify(await accessToken(keyA))).keyId).toBe("key-a");
  });

  it("drops a key that disappeared from the JWKS", async () => {
    jwks.keys = [keyA.jwk, keyB.jwk];
    const verifier = verifierFor();
    const tokenB = await accessToken(keyB);
    await verifier.verify(tokenB);
    jwks.keys = [keyA.jwk];
    advance(301);
    expect(await refusal(verifier.verify(tokenB))).toMatchObject({ code: "invalid_token" });
  });

  it("can be used on its own, as a jose key resolver", async () => {
    const keySet = new RemoteKeySet({ url: jwks.url });
    await keySet.reload();
    expect(await keySet.getKey({ kid: "key-a", alg: "ES256" })).toBeDefined();
    // Without a kid: the one key that fits the algorithm.
    expect(await keySet.getKey({ alg: "RS256" })).toBeDefined();
    expect(jwks.requests).toHaveLength(1);
  });
});
