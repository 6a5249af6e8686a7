/**
 * Verifying an external issuer's JWT (RFC 7523 §3, RFC 7519 §7.2, RFC 8725): each check refuses
 * with invalid_grant, a reason from the fixed set, and a description saying which check failed.
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { FederatedAssertionVerifier, FederationRefusal, type AssertionProfile, type VerifiedAssertionFacts } from "../../src/federation/federated-assertion.js";
import type { TrustedIssuer } from "../../src/federation/federation.js";
import { VerifiedTokenCache } from "../../src/oauth/verified-token-cache.js";
import { ISSUER, NOW } from "../oauth/token/in-memory-core.js";
import { FakeDirectory, fakeIssuer, memoryReplayGuard, fakeIssuerKeys, NOW_SECONDS, type FakeIssuer } from "./fake-federation.js";

const K8S = "https://kubernetes.default.svc.cluster.local";

function verifierFor(...issuers: FakeIssuer[]) {
  const directory = new FakeDirectory(new Map(issuers.map((issuer) => [issuer.issuer.issuer, issuer.issuer])), []);
  const keys = fakeIssuerKeys(issuers);
  const verifier = new FederatedAssertionVerifier({ directory, keys, replayGuard: memoryReplayGuard(), tesseraIssuer: ISSUER, now: () => NOW });
  return { verifier, keys };
}

async function refusal(promise: Promise<unknown>): Promise<{ code: string; reason: string; description: string }> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  if (!(error instanceof FederationRefusal)) throw new Error(`expected a FederationRefusal, got ${String(error)}`);
  return { code: error.code, reason: error.reason, description: error.description };
}

function encode(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

describe("FederatedAssertionVerifier", () => {
  const issuer = fakeIssuer({ issuer: K8S, audiences: ["tessera"] });
  const { verifier, keys } = verifierFor(issuer);

  it("accepts a token of a trusted issuer for one of its audiences and returns its verified claims", async () => {
    const token = await issuer.mint({ sub: "system:serviceaccount:payments:api", aud: ["other", "tessera"] });
    const verified = await verifier.verify(token, "grant");
    expect(verified.issuer.issuer).toBe(K8S);
    expect(verified.subject).toBe("system:serviceaccount:payments:api");
  });

  const cases: { name: string; token: () => Promise<string>; reason: string; description: RegExp; issuerOf?: () => FakeIssuer }[] = [
    { name: "a token of an issuer that is not trusted (wrong iss)", token: () => issuer.mint({ iss: "https://evil.example" }), reason: "unknown_issuer", description: /issuer is not trusted/ },
    { name: "a token without iss", token: () => issuer.mint({ iss: undefined }), reason: "unknown_issuer", description: /no iss/ },
    { name: "a token for another audience", token: () => issuer.mint({ aud: "https://elsewhere.example" }), reason: "audience", description: /aud/ },
    { name: "an expired token", token: () => issuer.mint({ iat: NOW_SECONDS - 1000, exp: NOW_SECONDS - 120 }), reason: "expired", description: /expired/ },
    { name: "a token without exp", token: () => issuer.mint({ exp: undefined }), reason: "malformed", description: /exp/ },
    { name: "a token not valid yet (nbf beyond the tolerance)", token: () => issuer.mint({ nbf: NOW_SECONDS + 300 }), reason: "not_yet_valid", description: /nbf/ },
    { name: "a token issued in the future (iat beyond the tolerance)", token: () => issuer.mint({ iat: NOW_SECONDS + 300, exp: NOW_SECONDS + 900 }), reason: "not_yet_valid", description: /iat/ },
    { name: "a token living longer than the issuer allows", token: () => issuer.mint({ exp: NOW_SECONDS + 2 * 86_400 }), reason: "lifetime", description: /lifetime/ },
    { name: "a token without iat that still lives longer than allowed", token: () => issuer.mint({ iat: undefined, exp: NOW_SECONDS + 2 * 86_400 }), reason: "lifetime", description: /lifetime/ },
    { name: "a token naming a kid the issuer does not have", token: () => issuer.mint({}, { kid: "unknown" }), reason: "key", description: /kid/ },
    { name: "a token whose signature does not verify", token: async () => { const token = await issuer.mint(); return `${token.slice(0, -4)}AAAA`; }, reason: "signature", description: /signature/ },
    { name: "a token signed with another key under the issuer's kid", token: () => issuer.mint({}, { key: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey }), reason: "signature", description: /signature/ },
    { name: "a token with an access token's typ", token: () => issuer.mint({}, { typ: "at+jwt" }), reason: "type", description: /access token/ },
    { name: "a token without sub", token: () => issuer.mint({ sub: undefined }), reason: "subject", description: /sub/ },
    { name: "something that is not a JWT", token: async () => "not-a-jwt", reason: "malformed", description: /not a JWT/ },
    { name: "a token far too long", token: async () => `${await issuer.mint()}${"A".repeat(20_000)}`, reason: "malformed", description: /too long/ },
  ];

  it.each(cases)("refuses $name", async ({ token, reason, description }) => {
    const refused = await refusal(verifier.verify(await token(), "grant"));
    expect(refused).toMatchObject({ code: "invalid_grant", reason });
    expect(refused.description).toMatch(description);
  });

  it("refuses alg none before any key is looked up", async () => {
    const before = keys.lookups;
    const token = `${encode({ alg: "none", kid: issuer.kid })}.${encode({ iss: K8S, sub: "x", aud: "tessera", iat: NOW_SECONDS, exp: NOW_SECONDS + 60 })}.`;
    expect(await refusal(verifier.verify(token, "grant"))).toMatchObject({ code: "invalid_grant", reason: "algorithm" });
    expect(keys.lookups).toBe(before);
  });

  it("refuses HS256 signed with the issuer's public key as the secret, before any key is looked up", async () => {
    const before = keys.lookups;
    const secret = new TextEncoder().encode(issuer.publicKey.export({ format: "pem", type: "spki" }).toString());
    const token = await new SignJWT({ iss: K8S, sub: "x", aud: "tessera", iat: NOW_SECONDS, exp: NOW_SECONDS + 60 }).setProtectedHeader({ alg: "HS256", kid: issuer.kid }).sign(secret);
    expect(await refusal(verifier.verify(token, "grant"))).toMatchObject({ code: "invalid_grant", reason: "algorithm" });
    expect(keys.lookups).toBe(before);
  });

  it("refuses an asymmetric algorithm the issuer does not allow", async () => {
    const rsa = fakeIssuer({ issuer: "https://rsa.example" }, "RS256");
    const limited = fakeIssuer({ issuer: "https://rsa.example", allowedAlgorithms: ["ES256"] }, "RS256");
    const { verifier: strict } = verifierFor({ ...rsa, issuer: limited.issuer });
    expect(await refusal(strict.verify(await rsa.mint(), "grant"))).toMatchObject({ reason: "algorithm" });
  });

  it("refuses a token older than the issuer's maximum age, and one without iat when an age limit is set", async () => {
    const aged = fakeIssuer({ issuer: "https://ci.example", maxTokenAgeSeconds: 300 });
    const { verifier: ageing } = verifierFor(aged);
    expect(await refusal(ageing.verify(await aged.mint({ iat: NOW_SECONDS - 600 }), "grant"))).toMatchObject({ reason: "age" });
    expect(await refusal(ageing.verify(await aged.mint({ iat: undefined }), "grant"))).toMatchObject({ reason: "age" });
    await expect(ageing.verify(await aged.mint({ iat: NOW_SECONDS - 100 }), "grant")).resolves.toBeDefined();
  });

  it("accepts nbf and iat within the clock tolerance", async () => {
    await expect(verifier.verify(await issuer.mint({ nbf: NOW_SECONDS + 30, iat: NOW_SECONDS + 30 }), "grant")).resolves.toBeDefined();
  });

  it("takes Tessera's issuer as the audience when the trusted issuer configures none", async () => {
    const plain = fakeIssuer({ issuer: "https://plain.example" });
    const { verifier: defaults } = verifierFor(plain);
    await expect(defaults.verify(await plain.mint({ aud: ISSUER }), "grant")).resolves.toBeDefined();
    expect(await refusal(defaults.verify(await plain.mint({ aud: "tessera" }), "grant"))).toMatchObject({ reason: "audience" });
  });

  it("refuses a replayed jti when the issuer allows each token once, and accepts reuse otherwise", async () => {
    const once = fakeIssuer({ issuer: "https://once.example", singleUse: true });
    const { verifier: singleUse } = verifierFor(once);
    const token = await once.mint();
    await expect(singleUse.verify(token, "grant")).resolves.toBeDefined();
    expect(await refusal(singleUse.verify(token, "grant"))).toMatchObject({ reason: "replayed", description: "the assertion was already used" });
    expect(await refusal(singleUse.verify(await once.mint({ jti: undefined }), "grant"))).toMatchObject({ reason: "replayed" });
    const reused = await issuer.mint();
    await verifier.verify(reused, "grant");
    await expect(verifier.verify(reused, "grant")).resolves.toBeDefined();
  });

  describe("SPIFFE JWT-SVIDs", () => {
    const spiffe = fakeIssuer({ issuer: "https://spire.prod.acme", keySource: { kind: "spiffe", trustDomain: "prod.acme", bundleEndpoint: null, bundle: null } });
    const { verifier: svids } = verifierFor(spiffe, issuer);
    const svid = (claims: Record<string, unknown> = {}, typ?: string) => spiffe.mint({ iss: undefined, sub: "spiffe://prod.acme/ns/payments/sa/api", jti: undefined, ...claims }, typ ? { typ } : {});

    it("finds the issuer of a JWT-SVID without iss by its trust domain, and takes typ JWT, JOSE or none", async () => {
      for (const typ of [undefined, "JWT", "JOSE"]) {
        await expect(svids.verify(await svid({}, typ), "spiffe_client_assertion")).resolves.toMatchObject({ subject: "spiffe://prod.acme/ns/payments/sa/api" });
      }
    });

    it("refuses another typ, a SPIFFE ID of another trust domain, and an issuer that is no trust domain", async () => {
      expect(await refusal(svids.verify(await svid({}, "at+jwt"), "spiffe_client_assertion"))).toMatchObject({ reason: "type" });
      expect(await refusal(svids.verify(await svid({ iss: "https://spire.prod.acme", sub: "spiffe://other.acme/x" }), "spiffe_client_assertion"))).toMatchObject({ reason: "subject" });
      expect(await refusal(svids.verify(await issuer.mint({ aud: ISSUER }), "spiffe_client_assertion"))).toMatchObject({ reason: "unknown_issuer" });
      expect(await refusal(svids.verify(await svid({ sub: "spiffe://unknown.acme/x" }), "spiffe_client_assertion"))).toMatchObject({ reason: "unknown_issuer", description: "the assertion's trust domain is not trusted" });
      expect(await refusal(svids.verify(await svid({ sub: "workload" }), "spiffe_client_assertion"))).toMatchObject({ reason: "subject" });
    });

    it("as a client assertion, wants Tessera's issuer as the only audience (rfc7523bis)", async () => {
      expect(await refusal(svids.verify(await svid({ aud: [ISSUER, "https://other.example"] }), "spiffe_client_assertion"))).toMatchObject({ reason: "audience" });
      expect(await refusal(svids.verify(await svid({ aud: `${ISSUER}/oauth/token` }), "spiffe_client_assertion"))).toMatchObject({ reason: "audience" });
      await expect(svids.verify(await svid({ aud: [ISSUER] }), "spiffe_client_assertion")).resolves.toBeDefined();
    });
  });

  it("says which check failed, never a policy's expectations (every profile refuses the same way)", async () => {
    const profiles: AssertionProfile[] = ["grant", "client_assertion"];
    for (const profile of profiles) {
      const refused = await refusal(verifier.verify(await issuer.mint({ aud: "nope" }), profile));
      expect(refused.description).not.toContain("tessera");
    }
  });
});

describe("FederatedAssertionVerifier, a token presented again (verified-assertion cache)", () => {
  function cachingVerifier(input: { issuer: FakeIssuer; maxEntries?: number; maxBytes?: number }) {
    const directory = new FakeDirectory(new Map([[input.issuer.issuer.issuer, input.issuer.issuer]]), []);
    let currentKey: KeyObject = input.issuer.publicKey;
    const keys = {
      lookups: 0,
      async keyFor() {
        keys.lookups++;
        return currentKey;
      },
    };
    let now = NOW;
    const cache = new VerifiedTokenCache<VerifiedAssertionFacts, TrustedIssuer>(input.maxEntries, input.maxBytes);
    const verifier = new FederatedAssertionVerifier({ directory, keys, replayGuard: memoryReplayGuard(() => now), tesseraIssuer: ISSUER, now: () => now, verifiedAssertions: cache });
    return {
      verifier,
      cache,
      directory,
      setKey: (key: KeyObject) => (currentKey = key),
      setNow: (date: Date) => (now = date),
    };
  }

  it("keeps a token it accepted, and still checks its expiry on every presentation", async () => {
    const issuer = fakeIssuer({ issuer: K8S, audiences: ["tessera"] });
    const { verifier, cache, setNow } = cachingVerifier({ issuer });
    const token = await issuer.mint({ exp: NOW_SECONDS + 120 });
    await expect(verifier.verify(token, "grant")).resolves.toMatchObject({ subject: "workload" });
    expect(cache.size).toBe(1);
    await expect(verifier.verify(token, "grant")).resolves.toMatchObject({ subject: "workload" });
    setNow(new Date((NOW_SECONDS + 120 + 61) * 1000));
    expect(await refusal(verifier.verify(token, "grant"))).toMatchObject({ reason: "expired" });
  });

  it("checks the time claims of a cached token on every presentation (the issuer's maximum age)", async () => {
    const issuer = fakeIssuer({ issuer: "https://ci.example", maxTokenAgeSeconds: 300 });
    const { verifier, cache, setNow } = cachingVerifier({ issuer });
    const token = await issuer.mint({ iat: NOW_SECONDS, exp: NOW_SECONDS + 3600 });
    await verifier.verify(token, "grant");
    expect(cache.size).toBe(1);
    setNow(new Date((NOW_SECONDS + 400) * 1000));
    // Still cached (it expires in an hour), refused by the age check that runs on each presentation.
    expect(await refusal(verifier.verify(token, "grant"))).toMatchObject({ reason: "age" });
  });

  it("checks the signature again when the issuer's key is another one (rotation), and refuses a token the new key did not sign", async () => {
    const issuer = fakeIssuer({ issuer: K8S, audiences: ["tessera"] });
    const { verifier, setKey } = cachingVerifier({ issuer });
    const token = await issuer.mint();
    await verifier.verify(token, "grant");
    setKey(generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey);
    expect(await refusal(verifier.verify(token, "grant"))).toMatchObject({ reason: "signature" });
    setKey(issuer.publicKey);
    await expect(verifier.verify(token, "grant")).resolves.toBeDefined();
  });

  it("forgets a token once its issuer's configuration changed, and applies the new configuration", async () => {
    const issuer = fakeIssuer({ issuer: K8S, audiences: ["tessera"] });
    const { verifier, cache, directory } = cachingVerifier({ issuer });
    const token = await issuer.mint();
    await verifier.verify(token, "grant");
    expect(cache.size).toBe(1);
    directory.issuers.set(K8S, { ...issuer.issuer, audiences: ["someone-else"], revision: 2 });
    expect(await refusal(verifier.verify(token, "grant"))).toMatchObject({ reason: "audience" });
    expect(cache.size).toBe(0);
    directory.issuers.delete(K8S);
    expect(await refusal(verifier.verify(token, "grant"))).toMatchObject({ reason: "unknown_issuer" });
  });

  it("never serves a cached token for another text: a forged payload under a cached token's signature is refused", async () => {
    const issuer = fakeIssuer({ issuer: K8S, audiences: ["tessera"] });
    const { verifier } = cachingVerifier({ issuer });
    const token = await issuer.mint({ sub: "system:serviceaccount:payments:api" });
    await verifier.verify(token, "grant");
    const [header, , signature] = token.split(".");
    const forged = `${header}.${encode({ iss: K8S, sub: "system:serviceaccount:kube-system:admin", aud: "tessera", iat: NOW_SECONDS, exp: NOW_SECONDS + 600 })}.${signature}`;
    expect(await refusal(verifier.verify(forged, "grant"))).toMatchObject({ reason: "signature" });
  });

  it("refuses a replayed single-use token although its signature is cached", async () => {
    const issuer = fakeIssuer({ issuer: "https://once.example", singleUse: true });
    const { verifier, cache } = cachingVerifier({ issuer });
    const token = await issuer.mint();
    await verifier.verify(token, "grant");
    expect(cache.size).toBe(1);
    expect(await refusal(verifier.verify(token, "grant"))).toMatchObject({ reason: "replayed" });
  });

  it("keeps nothing of a refused token", async () => {
    const issuer = fakeIssuer({ issuer: K8S, audiences: ["tessera"] });
    const { verifier, cache } = cachingVerifier({ issuer });
    await refusal(verifier.verify(await issuer.mint({ aud: "elsewhere" }), "grant"));
    await refusal(verifier.verify(await issuer.mint({ sub: undefined }), "grant"));
    expect(cache.size).toBe(0);
  });

  it("is bounded in entries and in bytes", async () => {
    const issuer = fakeIssuer({ issuer: K8S, audiences: ["tessera"] });
    const { verifier, cache } = cachingVerifier({ issuer, maxEntries: 2, maxBytes: 4_000 });
    for (let n = 0; n < 3; n++) await verifier.verify(await issuer.mint(), "grant");
    expect(cache.size).toBe(2);
    // A token longer than the byte budget is verified but not kept.
    const long = await issuer.mint({ padding: "x".repeat(3_000) });
    await expect(verifier.verify(long, "grant")).resolves.toBeDefined();
    expect(cache.byteSize).toBeLessThanOrEqual(4_000);
    await expect(verifier.verify(long, "grant")).resolves.toBeDefined();
    expect(cache.size).toBeLessThanOrEqual(2);
  });

  it("hands out the claims frozen, since every presentation of the token shares them", async () => {
    const issuer = fakeIssuer({ issuer: K8S, audiences: ["tessera"] });
    const { verifier } = cachingVerifier({ issuer });
    const token = await issuer.mint({ kubernetes: { namespace: "payments" } });
    const first = await verifier.verify(token, "grant");
    const again = await verifier.verify(token, "grant");
    expect(again.claims).toBe(first.claims);
    expect(Object.isFrozen(again.claims)).toBe(true);
    expect(Object.isFrozen(again.claims.kubernetes)).toBe(true);
  });
});
