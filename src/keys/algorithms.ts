/**
 * The JWS algorithms Tessera signs with (RFC 7518 §3, RFC 8037 §3.1) and how each maps onto
 * node:crypto. Kept in one table so adding an algorithm touches one place.
 */
import type { SignKeyObjectInput, VerifyKeyObjectInput, KeyObject } from "node:crypto";
import { constants } from "node:crypto";
import { ACCESS_TOKEN_SIGNING_ALGORITHMS } from "./access-token-profile.js";

/** The access-token profile's list; ALGORITHM_SPECS below must map each one (the compiler holds them in step). */
export const SIGNING_ALGORITHMS = ACCESS_TOKEN_SIGNING_ALGORITHMS;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export function isSigningAlgorithm(value: unknown): value is SigningAlgorithm {
  return typeof value === "string" && (SIGNING_ALGORITHMS as readonly string[]).includes(value);
}

/** The options besides the key that make node:crypto produce and check JWS-shaped signatures. */
export interface SignatureOptions {
  readonly padding?: number;
  readonly saltLength?: number;
  readonly dsaEncoding?: "ieee-p1363";
}

export interface AlgorithmSpec {
  /** Digest passed to crypto.sign/verify; null for EdDSA, which hashes internally. */
  readonly digest: "sha256" | null;
  /** Plain data, so a worker thread can be given the same table. */
  readonly options: SignatureOptions;
  /**
   * Whether one signature is expensive (RSA) or cheap (ECDSA, EdDSA), an order of magnitude
   * apart (docs/performance.md); decides where signing runs (src/keys/jws-signer.ts).
   */
  readonly signatureCost: "high" | "low";
  keyOptions(key: KeyObject): SignKeyObjectInput & VerifyKeyObjectInput;
}

function spec(digest: AlgorithmSpec["digest"], options: SignatureOptions, signatureCost: AlgorithmSpec["signatureCost"]): AlgorithmSpec {
  return { digest, options, signatureCost, keyOptions: (key) => ({ key, ...options }) };
}

export const ALGORITHM_SPECS: Readonly<Record<SigningAlgorithm, AlgorithmSpec>> = {
  RS256: spec("sha256", {}, "high"),
  // RFC 7518 §3.5: MGF1 with SHA-256 and a salt as long as the hash.
  PS256: spec("sha256", { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, "high"),
  // RFC 7518 §3.4: ECDSA signatures are R ‖ S, not DER.
  ES256: spec("sha256", { dsaEncoding: "ieee-p1363" }, "low"),
  EdDSA: spec(null, {}, "low"),
};
