/**
 * Signatures of JWS another party made: every asymmetric algorithm of RFC 7518 and RFC 8037 with
 * a key of its type verifies; a key of another type or size, another curve, a symmetric
 * algorithm, a changed signing input and a signature of the wrong shape do not.
 */
import { constants, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isForeignAlgorithm, verifyForeignJwsSignature } from "../../src/keys/foreign-jws.js";

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const smallRsa = generateKeyPairSync("rsa", { modulusLength: 1024 });
const p256 = generateKeyPairSync("ec", { namedCurve: "P-256" });
const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" });
const p521 = generateKeyPairSync("ec", { namedCurve: "P-521" });
const ed25519 = generateKeyPairSync("ed25519");

const INPUT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3JrbG9hZCJ9";

function signAs(alg: string, privateKey: KeyObject): Buffer {
  const digest = alg === "EdDSA" ? null : `sha${alg.slice(2)}`;
  if (alg.startsWith("PS")) return sign(digest, Buffer.from(INPUT), { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(2)) / 8 });
  if (alg.startsWith("ES")) return sign(digest, Buffer.from(INPUT), { key: privateKey, dsaEncoding: "ieee-p1363" });
  return sign(digest, Buffer.from(INPUT), privateKey);
}

const CASES = [
  ["RS256", rsa], ["RS384", rsa], ["RS512", rsa], ["PS256", rsa], ["PS384", rsa], ["PS512", rsa],
  ["ES256", p256], ["ES384", p384], ["ES512", p521], ["EdDSA", ed25519],
] as const;

describe("verifyForeignJwsSignature", () => {
  it.each(CASES)("verifies %s with a key of its type, and refuses a changed input", (alg, pair) => {
    expect(isForeignAlgorithm(alg)).toBe(true);
    const signature = signAs(alg, pair.privateKey);
    expect(verifyForeignJwsSignature(alg, pair.publicKey, INPUT, signature)).toBe("valid");
    expect(verifyForeignJwsSignature(alg, pair.publicKey, `${INPUT}x`, signature)).toBe("invalid");
  });

  it("refuses keys that do not fit the algorithm, whatever the signature", () => {
    expect(verifyForeignJwsSignature("RS256", p256.publicKey, INPUT, signAs("ES256", p256.privateKey))).toBe("unfit-key");
    expect(verifyForeignJwsSignature("RS256", smallRsa.publicKey, INPUT, signAs("RS256", smallRsa.privateKey))).toBe("unfit-key");
    expect(verifyForeignJwsSignature("ES256", p384.publicKey, INPUT, signAs("ES384", p384.privateKey))).toBe("unfit-key");
    expect(verifyForeignJwsSignature("EdDSA", rsa.publicKey, INPUT, signAs("RS256", rsa.privateKey))).toBe("unfit-key");
    expect(verifyForeignJwsSignature("RS256", rsa.privateKey, INPUT, signAs("RS256", rsa.privateKey))).toBe("unfit-key");
  });

  it("knows no symmetric or made-up algorithm", () => {
    for (const alg of ["none", "HS256", "RS1", "es256", "__proto__", "toString"]) {
      expect(isForeignAlgorithm(alg), alg).toBe(false);
      expect(verifyForeignJwsSignature(alg, rsa.publicKey, INPUT, Buffer.alloc(256)), alg).toBe("unfit-key");
    }
  });

  it("answers invalid, never throws, for a signature of the wrong shape", () => {
    expect(verifyForeignJwsSignature("ES256", p256.publicKey, INPUT, Buffer.alloc(3))).toBe("invalid");
    expect(verifyForeignJwsSignature("RS256", rsa.publicKey, INPUT, Buffer.alloc(0))).toBe("invalid");
    expect(verifyForeignJwsSignature("EdDSA", ed25519.publicKey, INPUT, Buffer.alloc(65))).toBe("invalid");
  });
});
