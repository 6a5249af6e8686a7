/**
 * The JWS algorithms Tessera signs with (RFC 7518 §3, RFC 8037 §3.1) and how each maps onto
 * node:crypto. Kept in one table so adding an algorithm touches one place.
 */
import type { SignKeyObjectInput, VerifyKeyObjectInput, KeyObject } from "node:crypto";
import { constants } from "node:crypto";

export const SIGNING_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export function isSigningAlgorithm(value: unknown): value is SigningAlgorithm {
  return typeof value === "string" && (SIGNING_ALGORITHMS as readonly string[]).includes(value);
}

interface AlgorithmSpec {
  /** Digest passed to crypto.sign/verify; null for EdDSA, which hashes internally. */
  readonly digest: "sha256" | null;
  /** Extra options that make node:crypto produce and check JWS-shaped signatures. */
  keyOptions(key: KeyObject): SignKeyObjectInput & VerifyKeyObjectInput;
}

export const ALGORITHM_SPECS: Readonly<Record<SigningAlgorithm, AlgorithmSpec>> = {
  RS256: { digest: "sha256", keyOptions: (key) => ({ key }) },
  // RFC 7518 §3.5: MGF1 with SHA-256 and a salt as long as the hash.
  PS256: {
    digest: "sha256",
    keyOptions: (key) => ({ key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }),
  },
  // RFC 7518 §3.4: ECDSA signatures are R ‖ S, not DER.
  ES256: { digest: "sha256", keyOptions: (key) => ({ key, dsaEncoding: "ieee-p1363" }) },
  EdDSA: { digest: null, keyOptions: (key) => ({ key }) },
};
