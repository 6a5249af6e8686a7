/**
 * The pure DPoP proof checks shared by the server and tessera/verifier (RFC 9449 §4.3): every
 * allowed algorithm verifies, HMAC does not, htu normalisation, and the stateless nonces' window.
 */
import { randomUUID } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { DpopNonces, DpopProofError, normalizeHtu, verifyDpopProof } from "../../src/keys/dpop-proof.js";

const URL_ = "https://as.example/oauth/token";
const now = () => Math.floor(Date.now() / 1000);

async function signed(alg: string, claims: Record<string, unknown> = {}) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}) });
  return new SignJWT({ jti: randomUUID(), htm: "POST", htu: URL_, ...claims })
    .setProtectedHeader({ alg, typ: "dpop+jwt", jwk: await exportJWK(publicKey) })
    .setIssuedAt()
    .sign(privateKey);
}

describe("verifyDpopProof", () => {
  it.each(["ES256", "EdDSA", "PS256", "RS256"])("accepts a %s proof and returns its key's thumbprint", async (alg) => {
    const verified = await verifyDpopProof(await signed(alg), { method: "POST", url: URL_, now: now() });
    expect(verified.jkt).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("refuses an HMAC proof, whatever key it names", async () => {
    const proof = await new SignJWT({ jti: "j", htm: "POST", htu: URL_ })
      .setProtectedHeader({ alg: "HS256", typ: "dpop+jwt", jwk: { kty: "oct", k: "c2VjcmV0" } as never })
      .setIssuedAt()
      .sign(new TextEncoder().encode("secret"));
    await expect(verifyDpopProof(proof, { method: "POST", url: URL_, now: now() })).rejects.toBeInstanceOf(DpopProofError);
  });

  it("refuses a jti longer than 256 characters and a proof larger than 8 KiB", async () => {
    await expect(verifyDpopProof(await signed("ES256", { jti: "x".repeat(257) }), { method: "POST", url: URL_, now: now() })).rejects.toThrow(/jti/);
    await expect(verifyDpopProof("a".repeat(9_000), { method: "POST", url: URL_, now: now() })).rejects.toThrow(/too large/);
  });

  it("asks for a nonce when nonces are required, and takes the current one", async () => {
    const nonces = new DpopNonces(new Uint8Array(32));
    const refused = await verifyDpopProof(await signed("ES256"), { method: "POST", url: URL_, now: now(), nonces }).catch((error: unknown) => error);
    expect(refused).toMatchObject({ error: "use_dpop_nonce" });
    await expect(verifyDpopProof(await signed("ES256", { nonce: nonces.current() }), { method: "POST", url: URL_, now: now(), nonces })).resolves.toBeDefined();
  });
});

describe("verifyDpopProof, proofs of a key seen before (checked headers kept)", () => {
  async function keyPair() {
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    const jwk = await exportJWK(publicKey);
    const proof = (claims: Record<string, unknown> = {}) =>
      new SignJWT({ jti: randomUUID(), htm: "POST", htu: URL_, ...claims }).setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk }).setIssuedAt().sign(privateKey);
    return { proof, jwk };
  }

  it("still verifies each proof's signature: another payload under a known header is refused", async () => {
    const { proof } = await keyPair();
    const first = await proof();
    const { jkt } = await verifyDpopProof(first, { method: "POST", url: URL_, now: now() });
    const [header, , signature] = first.split(".");
    const forged = `${header}.${Buffer.from(JSON.stringify({ jti: randomUUID(), htm: "POST", htu: URL_, iat: now() })).toString("base64url")}.${signature}`;
    await expect(verifyDpopProof(forged, { method: "POST", url: URL_, now: now() })).rejects.toThrow(/signature/);
    await expect(verifyDpopProof(await proof(), { method: "POST", url: URL_, now: now() })).resolves.toMatchObject({ jkt });
  });

  it("still checks htm, htu, iat and the bound key on every proof of a known key", async () => {
    const { proof } = await keyPair();
    const { jkt } = await verifyDpopProof(await proof(), { method: "POST", url: URL_, now: now() });
    await expect(verifyDpopProof(await proof({ htu: "https://as.example/elsewhere" }), { method: "POST", url: URL_, now: now() })).rejects.toThrow(/htu/);
    await expect(verifyDpopProof(await proof({ htm: "GET" }), { method: "POST", url: URL_, now: now() })).rejects.toThrow(/htm/);
    await expect(verifyDpopProof(await proof(), { method: "POST", url: URL_, now: now() + 3600 })).rejects.toThrow(/iat/);
    await expect(verifyDpopProof(await proof(), { method: "POST", url: URL_, now: now(), jkt: `${jkt.slice(0, -1)}A` === jkt ? `${jkt.slice(0, -1)}B` : `${jkt.slice(0, -1)}A` })).rejects.toThrow(/bound/);
    // An htu that differs from the server's URL only in what normalisation removes is the same URL.
    await expect(verifyDpopProof(await proof({ htu: "HTTPS://AS.example:443/oauth/token?x=1" }), { method: "POST", url: URL_, now: now() })).resolves.toMatchObject({ jkt });
  });

  it("refuses a refused header again: a header that failed its checks is not kept", async () => {
    const { jwk } = await keyPair();
    const header = Buffer.from(JSON.stringify({ alg: "ES256", typ: "dpop+jwt", jwk: { ...jwk, d: "private" } })).toString("base64url");
    const proof = `${header}.${Buffer.from("{}").toString("base64url")}.AAAA`;
    for (let attempt = 0; attempt < 2; attempt++) {
      await expect(verifyDpopProof(proof, { method: "POST", url: URL_, now: now() })).rejects.toThrow(/private/);
    }
  });
});

describe("normalizeHtu", () => {
  it("compares scheme and host case-insensitively, without default ports, query or fragment", () => {
    expect(normalizeHtu("HTTPS://AS.Example:443/oauth/token?x=1#f")).toBe(normalizeHtu(URL_));
    expect(normalizeHtu("http://as.example:80/a")).toBe("http://as.example/a");
    expect(normalizeHtu("https://as.example:8443/oauth/token")).not.toBe(normalizeHtu(URL_));
    expect(normalizeHtu("https://as.example/oauth/TOKEN")).not.toBe(normalizeHtu(URL_));
  });

  it("refuses what is not an absolute http(s) URL", () => {
    for (const url of ["/oauth/token", "javascript:alert(1)", "http://[::1", `https://a/${"b".repeat(5_000)}`]) expect(normalizeHtu(url)).toBeUndefined();
  });
});

describe("DpopNonces", () => {
  it("accepts the current and the previous window's nonce, from any holder of the key, and nothing older or forged", () => {
    let clock = 1_000_000;
    const key = new Uint8Array(32).fill(7);
    const issuer = new DpopNonces(key, 60, () => clock);
    const replica = new DpopNonces(key, 60, () => clock);
    const nonce = issuer.current();
    expect(replica.accepts(nonce)).toBe(true);
    clock += 60;
    expect(replica.accepts(nonce)).toBe(true);
    clock += 60;
    expect(replica.accepts(nonce)).toBe(false);
    expect(new DpopNonces(new Uint8Array(32), 60, () => clock).accepts(issuer.current())).toBe(false);
    for (const forged of ["", ".", "1.", `${Math.floor(clock / 60)}.AAAA`, "x".repeat(300)]) expect(replica.accepts(forged)).toBe(false);
  });
});
