import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../src/clients/client.js";
import { TesseraError } from "../../src/errors.js";
import type { IssuerKeySource, TrustedIssuer } from "../../src/federation/federation.js";
import { IssuerKeyCache, type KeyFetchOutcome, type KeySetSource } from "../../src/federation/issuer-key-cache.js";
import { OutboundFetchError, outboundJsonFetcher, type FetchedJson } from "../../src/federation/outbound-fetch.js";
import type { Client } from "../../src/clients/client.js";
import { newClientFixture } from "../support/client-fixture.js";
import { startFakeServer } from "../support/fake-issuer.js";

const ISSUER = "https://issuer.example";
const JWKS_URI = "https://issuer.example/jwks";

function ecKey(kid: string, extra: JsonObject = {}): { jwk: JsonObject; publicKey: KeyObject } {
  const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { jwk: { ...(publicKey.export({ format: "jwk" }) as JsonObject), kid, ...extra }, publicKey };
}

function trustedIssuer(keySource: IssuerKeySource, revision = 1): TrustedIssuer {
  return {
    issuer: ISSUER,
    description: "",
    keySource,
    audiences: [],
    allowedAlgorithms: ["ES256"],
    maxTokenLifetimeSeconds: 86_400,
    maxTokenAgeSeconds: null,
    clockToleranceSeconds: 60,
    singleUse: false,
    annotations: {},
    revision,
    createTime: new Date(0),
    updateTime: new Date(0),
  };
}

/** A fake web: documents by URL, a clock, and a log of fetches. */
function harness(policy: ConstructorParameters<typeof IssuerKeyCache>[0]["policy"] = {}) {
  const documents = new Map<string, { body: JsonObject; maxAgeSeconds?: number } | "down">();
  const fetched: string[] = [];
  const outcomes: [KeySetSource, KeyFetchOutcome][] = [];
  let nowMs = Date.parse("2026-12-03T12:00:00Z");
  const gates: (() => void)[] = [];
  let gated = false;
  const failures: string[] = [];
  const cache = new IssuerKeyCache({
    now: () => new Date(nowMs),
    policy,
    onFetch: (source, outcome) => outcomes.push([source, outcome]),
    onFetchFailure: (failure) => failures.push(`${failure.issuer ?? failure.clientId}: ${failure.reason}: ${failure.message}`),
    fetchJson: async (url): Promise<FetchedJson> => {
      fetched.push(url);
      if (gated) await new Promise<void>((resolve) => gates.push(resolve));
      const document = documents.get(url);
      if (document === undefined || document === "down") throw new OutboundFetchError("unreachable", "down");
      return { body: document.body, maxAgeSeconds: document.maxAgeSeconds, url };
    },
  });
  return {
    cache,
    documents,
    fetched,
    outcomes,
    failures,
    advance: (seconds: number) => void (nowMs += seconds * 1000),
    gate: () => void (gated = true),
    release: () => {
      gated = false;
      gates.splice(0).forEach((open) => open());
    },
  };
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(TesseraError);
  expect((error as TesseraError).code).toBe("invalid_grant");
  return (error as TesseraError).description;
}

/** Lets background work (a refresh started and not awaited) finish. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("IssuerKeyCache, keys from a jwks_uri", () => {
  const source: IssuerKeySource = { kind: "jwks_uri", jwksUri: JWKS_URI };

  it("fetches once and answers a known kid from memory for the Cache-Control max-age", async () => {
    const { cache, documents, fetched, outcomes } = harness();
    const one = ecKey("one");
    documents.set(JWKS_URI, { body: { keys: [one.jwk] }, maxAgeSeconds: 600 });
    const key = await cache.keyFor(trustedIssuer(source), { alg: "ES256", kid: "one" });
    expect(key.equals(one.publicKey)).toBe(true);
    await cache.keyFor(trustedIssuer(source), { alg: "ES256", kid: "one" });
    expect(fetched).toEqual([JWKS_URI]);
    expect(outcomes).toEqual([["jwks_uri", "success"]]);
  });

  it("refreshes in the background once most of the max-age has passed, answering from memory meanwhile", async () => {
    const { cache, documents, fetched, advance, gate, release } = harness();
    const one = ecKey("one");
    documents.set(JWKS_URI, { body: { keys: [one.jwk] }, maxAgeSeconds: 600 });
    const issuer = trustedIssuer(source);
    await cache.keyFor(issuer, { alg: "ES256", kid: "one" });
    advance(300);
    await cache.keyFor(issuer, { alg: "ES256", kid: "one" });
    expect(fetched).toHaveLength(1);
    advance(200);
    gate();
    // The refresh is under way and held: the request does not wait for it.
    const key = await cache.keyFor(issuer, { alg: "ES256", kid: "one" });
    expect(key.equals(one.publicKey)).toBe(true);
    expect(fetched).toHaveLength(2);
    release();
  });

  it("clamps the max-age: a max-age of 1 s still holds the keys 60 s, one of a year at most a day", async () => {
    const { cache, documents, fetched, advance } = harness({ refreshAheadFraction: 1 });
    documents.set(JWKS_URI, { body: { keys: [ecKey("one").jwk] }, maxAgeSeconds: 1 });
    const issuer = trustedIssuer(source);
    await cache.keyFor(issuer, { alg: "ES256", kid: "one" });
    advance(59);
    await cache.keyFor(issuer, { alg: "ES256", kid: "one" });
    expect(fetched).toHaveLength(1);
    advance(2);
    await cache.keyFor(issuer, { alg: "ES256", kid: "one" });
    await settle();
    expect(fetched).toHaveLength(2);

    documents.set(JWKS_URI, { body: { keys: [ecKey("one").jwk] }, maxAgeSeconds: 365 * 86_400 });
    advance(61);
    await cache.keyFor(issuer, { alg: "ES256", kid: "one" });
    await settle();
    const before = fetched.length;
    advance(86_400 + 1);
    await cache.keyFor(issuer, { alg: "ES256", kid: "one" });
    await settle();
    expect(fetched.length).toBe(before + 1);
  });

  it("picks up a rotation: a new kid triggers one refetch and is then known, without restart", async () => {
    const { cache, documents, fetched } = harness();
    const one = ecKey("one");
    const two = ecKey("two");
    documents.set(JWKS_URI, { body: { keys: [one.jwk] }, maxAgeSeconds: 3_600 });
    const issuer = trustedIssuer(source);
    await cache.keyFor(issuer, { alg: "ES256", kid: "one" });
    documents.set(JWKS_URI, { body: { keys: [one.jwk, two.jwk] }, maxAgeSeconds: 3_600 });
    const key = await cache.keyFor(issuer, { alg: "ES256", kid: "two" });
    expect(key.equals(two.publicKey)).toBe(true);
    expect(fetched).toHaveLength(2);
    await cache.keyFor(issuer, { alg: "ES256", kid: "two" });
    expect(fetched).toHaveLength(2);
  });

  it("refetches for unknown kids at most once per cooldown", async () => {
    const { cache, documents, fetched, advance } = harness({ cooldownSeconds: 30 });
    documents.set(JWKS_URI, { body: { keys: [ecKey("one").jwk] }, maxAgeSeconds: 3_600 });
    const issuer = trustedIssuer(source);
    await cache.keyFor(issuer, { alg: "ES256", kid: "one" });
    expect(await refusal(cache.keyFor(issuer, { alg: "ES256", kid: "invented-1" }))).toMatch(/kid/);
    expect(fetched).toHaveLength(2);
    expect(await refusal(cache.keyFor(issuer, { alg: "ES256", kid: "invented-2" }))).toMatch(/kid/);
    expect(fetched).toHaveLength(2);
    advance(31);
    expect(await refusal(cache.keyFor(issuer, { alg: "ES256", kid: "invented-3" }))).toMatch(/kid/);
    expect(fetched).toHaveLength(3);
  });

  it("runs one fetch for 100 concurrent requests", async () => {
    const { cache, documents, fetched, gate, release } = harness();
    const one = ecKey("one");
    documents.set(JWKS_URI, { body: { keys: [one.jwk] }, maxAgeSeconds: 600 });
    const issuer = trustedIssuer(source);
    gate();
    const requests = Array.from({ length: 100 }, () => cache.keyFor(issuer, { alg: "ES256", kid: "one" }));
    await settle();
    release();
    const keys = await Promise.all(requests);
    expect(keys.every((key) => key.equals(one.publicKey))).toBe(true);
    expect(fetched).toHaveLength(1);
  });

  it("serves cached keys within the stale window while the issuer is down, and refuses after it", async () => {
    const { cache, documents, advance, outcomes } = harness({ maxStalenessSeconds: 3_600, refreshAheadFraction: 1 });
    documents.set(JWKS_URI, { body: { keys: [ecKey("one").jwk] }, maxAgeSeconds: 300 });
    const issuer = trustedIssuer(source);
    await cache.keyFor(issuer, { alg: "ES256", kid: "one" });
    documents.set(JWKS_URI, "down");
    advance(300 + 1_800);
    await cache.keyFor(issuer, { alg: "ES256", kid: "one" });
    await settle();
    expect(outcomes.at(-1)).toEqual(["jwks_uri", "unreachable"]);
    advance(1_800);
    expect(await refusal(cache.keyFor(issuer, { alg: "ES256", kid: "one" }))).toMatch(/cannot be fetched/);
    // Back up: the next request past the cooldown fetches again and is served.
    documents.set(JWKS_URI, { body: { keys: [ecKey("one").jwk] }, maxAgeSeconds: 300 });
    advance(31);
    await cache.keyFor(issuer, { alg: "ES256", kid: "one" });
  });

  it("does not ask an unreachable issuer again within the cooldown", async () => {
    const { cache, documents, fetched } = harness();
    documents.set(JWKS_URI, "down");
    const issuer = trustedIssuer(source);
    await refusal(cache.keyFor(issuer, { alg: "ES256", kid: "one" }));
    await refusal(cache.keyFor(issuer, { alg: "ES256", kid: "one" }));
    expect(fetched).toHaveLength(1);
  });

  it("drops what it held when the trusted issuer changes", async () => {
    const { cache, documents, fetched } = harness();
    documents.set(JWKS_URI, { body: { keys: [ecKey("one").jwk] }, maxAgeSeconds: 3_600 });
    await cache.keyFor(trustedIssuer(source, 1), { alg: "ES256", kid: "one" });
    await cache.keyFor(trustedIssuer(source, 2), { alg: "ES256", kid: "one" });
    expect(fetched).toHaveLength(2);
  });
});

describe("IssuerKeyCache, key choice", () => {
  const source: IssuerKeySource = { kind: "jwks_uri", jwksUri: JWKS_URI };

  it("takes the only key when the token names no kid, and refuses to guess among several", async () => {
    const { cache, documents } = harness();
    const one = ecKey("one");
    documents.set(JWKS_URI, { body: { keys: [one.jwk] } });
    expect((await cache.keyFor(trustedIssuer(source, 1), { alg: "ES256" })).equals(one.publicKey)).toBe(true);
    documents.set(JWKS_URI, { body: { keys: [one.jwk, ecKey("two").jwk] } });
    expect(await refusal(cache.keyFor(trustedIssuer(source, 2), { alg: "ES256" }))).toMatch(/several keys/);
  });

  it("refuses a key whose type does not fit alg, or whose own alg differs", async () => {
    const { cache, documents } = harness();
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "jwk" }) as JsonObject;
    documents.set(JWKS_URI, { body: { keys: [ecKey("ec").jwk, { ...rsa, kid: "rsa" }, ecKey("pinned", { alg: "ES384" }).jwk] } });
    const issuer = trustedIssuer(source);
    expect(await refusal(cache.keyFor(issuer, { alg: "RS256", kid: "ec" }))).toMatch(/does not fit/);
    expect(await refusal(cache.keyFor(issuer, { alg: "ES256", kid: "rsa" }))).toMatch(/does not fit/);
    expect(await refusal(cache.keyFor(issuer, { alg: "ES256", kid: "pinned" }))).toMatch(/does not fit/);
    await cache.keyFor(issuer, { alg: "RS256", kid: "rsa" });
  });

  it("never uses a symmetric key, and refuses none and HMAC", async () => {
    const { cache, documents } = harness();
    documents.set(JWKS_URI, { body: { keys: [{ kty: "oct", kid: "secret", k: "c2VjcmV0" }, ecKey("ec").jwk] } });
    const issuer = trustedIssuer(source);
    expect(await refusal(cache.keyFor(issuer, { alg: "HS256", kid: "secret" }))).toMatch(/asymmetric/);
    expect(await refusal(cache.keyFor(issuer, { alg: "none" }))).toMatch(/asymmetric/);
    expect(await refusal(cache.keyFor(issuer, { alg: "ES256", kid: "secret" }))).toMatch(/kid/);
  });

  it("keeps at most 100 keys of a set", async () => {
    const { cache, documents } = harness({ cooldownSeconds: 0 });
    const keys = Array.from({ length: 101 }, (_, index) => ecKey(`k${index}`).jwk);
    documents.set(JWKS_URI, { body: { keys } });
    const issuer = trustedIssuer(source);
    await cache.keyFor(issuer, { alg: "ES256", kid: "k99" });
    expect(await refusal(cache.keyFor(issuer, { alg: "ES256", kid: "k100" }))).toMatch(/kid/);
  });
});

describe("IssuerKeyCache, OIDC discovery", () => {
  const discoveryUrl = `${ISSUER}/.well-known/openid-configuration`;

  it("follows the discovery document to its jwks_uri", async () => {
    const { cache, documents, fetched, outcomes } = harness();
    const one = ecKey("one");
    documents.set(discoveryUrl, { body: { issuer: ISSUER, jwks_uri: `${ISSUER}/keys` } });
    documents.set(`${ISSUER}/keys`, { body: { keys: [one.jwk] } });
    expect((await cache.keyFor(trustedIssuer({ kind: "discovery" }), { alg: "ES256", kid: "one" })).equals(one.publicKey)).toBe(true);
    expect(fetched).toEqual([discoveryUrl, `${ISSUER}/keys`]);
    expect(outcomes).toEqual([["discovery", "success"]]);
  });

  it("refuses a discovery document whose issuer is not exactly the trusted one", async () => {
    const { cache, documents, fetched, outcomes, failures } = harness();
    documents.set(discoveryUrl, { body: { issuer: "https://attacker.example", jwks_uri: `${ISSUER}/keys` } });
    documents.set(`${ISSUER}/keys`, { body: { keys: [ecKey("one").jwk] } });
    expect(await refusal(cache.keyFor(trustedIssuer({ kind: "discovery" }), { alg: "ES256", kid: "one" }))).toMatch(/cannot be fetched/);
    expect(fetched).toEqual([discoveryUrl]);
    expect(outcomes).toEqual([["discovery", "invalid_document"]]);
    expect(failures).toEqual([`${ISSUER}: invalid_document: discovery document names another issuer`]);
  });
});

describe("IssuerKeyCache, SPIFFE bundles and inline keys", () => {
  it("uses only a bundle's jwt-svid keys, from its endpoint", async () => {
    const { cache, documents } = harness();
    const svid = ecKey("svid", { use: "jwt-svid" });
    const x509 = ecKey("x509", { use: "x509-svid" });
    const endpoint = "https://spire.example/bundle";
    documents.set(endpoint, { body: { keys: [svid.jwk, x509.jwk], spiffe_refresh_hint: 300 } });
    const issuer = trustedIssuer({ kind: "spiffe", trustDomain: "prod.acme", bundleEndpoint: endpoint, bundle: null });
    expect((await cache.keyFor(issuer, { alg: "ES256", kid: "svid" })).equals(svid.publicKey)).toBe(true);
    expect(await refusal(cache.keyFor(issuer, { alg: "ES256", kid: "x509" }))).toMatch(/kid/);
  });

  it("uses a pasted bundle's jwt-svid keys and a pasted JWKS without fetching", async () => {
    const { cache, fetched } = harness();
    const svid = ecKey("svid", { use: "jwt-svid" });
    const spiffe = trustedIssuer({ kind: "spiffe", trustDomain: "prod.acme", bundleEndpoint: null, bundle: { keys: [svid.jwk, ecKey("sig", { use: "sig" }).jwk] } });
    expect((await cache.keyFor(spiffe, { alg: "ES256", kid: "svid" })).equals(svid.publicKey)).toBe(true);
    expect(await refusal(cache.keyFor(spiffe, { alg: "ES256", kid: "sig" }))).toMatch(/kid/);
    const one = ecKey("one");
    const inline = trustedIssuer({ kind: "jwks", jwks: { keys: [one.jwk] } });
    expect((await cache.keyFor(inline, { alg: "ES256", kid: "one" })).equals(one.publicKey)).toBe(true);
    expect(fetched).toEqual([]);
  });
});

describe("IssuerKeyCache, clients registered by jwks_uri", () => {
  it("applies the client key rules and drops the keys when the client changes", async () => {
    const { cache, documents, fetched, outcomes } = harness();
    const one = ecKey("one");
    const url = "https://client.example/jwks";
    documents.set(url, { body: { keys: [one.jwk, { kty: "oct", kid: "secret", k: "c2VjcmV0" }] } });
    const client: Client = { ...newClientFixture({ id: "jwks-uri-client", jwksUri: url }), status: "active", revision: 1, createTime: new Date(0), updateTime: new Date(0) };
    expect((await cache.clientKeyFor(client, { alg: "ES256", kid: "one" })).equals(one.publicKey)).toBe(true);
    await expect(cache.clientKeyFor(client, { alg: "ES256", kid: "secret" })).rejects.toThrow();
    await cache.clientKeyFor({ ...client, revision: client.revision + 1 }, { alg: "ES256", kid: "one" });
    expect(fetched.filter((fetchedUrl) => fetchedUrl === url).length).toBe(3);
    expect(outcomes.every(([source]) => source === "client_jwks_uri")).toBe(true);
  });
});

describe("IssuerKeyCache, a client publishing more keys than it could register inline", () => {
  it("uses them, each under the client key rules", async () => {
    const { cache, documents } = harness();
    const url = "https://client.example/many";
    const keys = Array.from({ length: 12 }, (_, index) => ecKey(`k${index}`));
    const weak = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "jwk" }) as JsonObject;
    documents.set(url, { body: { keys: [...keys.map((key) => key.jwk), { ...weak, kid: "weak" }] } });
    const client: Client = { ...newClientFixture({ id: "many-keys", jwksUri: url }), status: "active", revision: 1, createTime: new Date(0), updateTime: new Date(0) };
    expect((await cache.clientKeyFor(client, { alg: "ES256", kid: "k11" })).equals(keys[11]!.publicKey)).toBe(true);
    expect(await refusal(cache.clientKeyFor(client, { alg: "RS256", kid: "weak" }))).toMatch(/kid/);
  });
});

describe("IssuerKeyCache through the hardened fetcher, against local HTTPS issuers", () => {
  it("finds keys by discovery over HTTPS, and refuses cleanly a JWKS that is too large, redirected away, or not JSON", async () => {
    const [issuerServer, elsewhere] = await Promise.all([startFakeServer(), startFakeServer()]);
    try {
      const outcomes: KeyFetchOutcome[] = [];
      const cache = new IssuerKeyCache({
        fetchJson: outboundJsonFetcher({ maxResponseBytes: 16 * 1024 }),
        now: () => new Date(),
        onFetch: (_source, outcome) => outcomes.push(outcome),
      });
      const one = ecKey("one");
      const iss = issuerServer.origin;
      issuerServer.json("/.well-known/openid-configuration", { issuer: iss, jwks_uri: `${iss}/jwks` });
      issuerServer.json("/jwks", { keys: [one.jwk] }, "max-age=600");
      const discovered: TrustedIssuer = { ...trustedIssuer({ kind: "discovery" }), issuer: iss };
      expect((await cache.keyFor(discovered, { alg: "ES256", kid: "one" })).equals(one.publicKey)).toBe(true);

      issuerServer.json("/large", { keys: Array.from({ length: 200 }, (_, index) => ecKey(`k${index}`).jwk) });
      elsewhere.json("/jwks", { keys: [one.jwk] });
      issuerServer.route("/away", (_request, response) => response.writeHead(302, { location: `${elsewhere.origin}/jwks` }).end());
      issuerServer.route("/html", (_request, response) => response.writeHead(200, { "content-type": "text/html" }).end("<html>"));
      for (const [path, outcome] of [["/large", "too_large"], ["/away", "redirect_refused"], ["/html", "not_json"]] as const) {
        const issuer: TrustedIssuer = { ...trustedIssuer({ kind: "jwks_uri", jwksUri: `${iss}${path}` }), issuer: `${iss}${path}` };
        expect(await refusal(cache.keyFor(issuer, { alg: "ES256", kid: "one" }))).toMatch(/cannot be fetched/);
        expect(outcomes.at(-1)).toBe(outcome);
      }
      expect(elsewhere.hitsOf("/jwks")).toBe(0);
    } finally {
      await Promise.all([issuerServer.close(), elsewhere.close()]);
    }
  });
});
