/**
 * Creating a fresh key pair for an algorithm, with its public JWK and an RFC 7638 thumbprint
 * as kid (stable, collision-free, and derivable by anyone holding the public key).
 */
import { generateKeyPair, type JsonWebKey, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { calculateJwkThumbprint } from "jose";
import type { SigningAlgorithm } from "./algorithms.js";

const generateKeyPairAsync = promisify(generateKeyPair);

export interface GeneratedKeyPair {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicJwk: JsonWebKey;
}

async function generatePair(alg: SigningAlgorithm, rsaModulusLength: number): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  switch (alg) {
    case "RS256":
    case "PS256":
      // PS256 keys are plain RSA keys: PSS is chosen at signing time, and a plain "rsa" key
      // exports as a JWK that every verifier can import.
      return generateKeyPairAsync("rsa", { modulusLength: rsaModulusLength, publicExponent: 0x10001 });
    case "ES256":
      return generateKeyPairAsync("ec", { namedCurve: "P-256" });
    case "EdDSA":
      return generateKeyPairAsync("ed25519");
  }
}

export async function generateSigningKeyPair(alg: SigningAlgorithm, options: { rsaModulusLength: number }): Promise<GeneratedKeyPair> {
  const { privateKey, publicKey } = await generatePair(alg, options.rsaModulusLength);
  const exported = publicKey.export({ format: "jwk" });
  const publicJwk = publicMembers(exported);
  const kid = await calculateJwkThumbprint(publicJwk as Parameters<typeof calculateJwkThumbprint>[0], "sha256");
  return { kid, alg, privateKey, publicKey, publicJwk };
}

/** Keeps only the public members of a JWK, whatever the key type. */
export function publicMembers(jwk: JsonWebKey): JsonWebKey {
  switch (jwk.kty) {
    case "RSA":
      return { kty: "RSA", n: jwk.n, e: jwk.e };
    case "EC":
      return { kty: "EC", crv: jwk.crv, x: jwk.x, y: jwk.y };
    case "OKP":
      return { kty: "OKP", crv: jwk.crv, x: jwk.x };
    default:
      throw new Error(`unsupported key type ${String(jwk.kty)}`);
  }
}
