/**
 * Checking the signature of a JWS another party signed (a workload's identity token), with any
 * of the asymmetric algorithms of RFC 7518 §3.3–3.5 and RFC 8037 §3.1 — a wider set than the
 * ones Tessera signs with (algorithms.ts). The algorithm is the one the caller allowed, never
 * the header's choice, and the key must be of the algorithm's type: an RSA key for RS/PS (of at
 * least 2048 bits, RFC 7518 §3.3), the matching curve for ES, an Edwards key for EdDSA.
 *
 * Synchronous on purpose: one RSA or ECDSA verification costs less event-loop time than handing
 * it to the thread pool does (docs/performance.md).
 */
import { constants, verify, type KeyObject, type VerifyKeyObjectInput } from "node:crypto";

interface ForeignAlgorithm {
  readonly digest: "sha256" | "sha384" | "sha512" | null;
  readonly keyType: "rsa" | "ec" | "okp";
  /** For ES*: node's name of the curve the key must be on. */
  readonly curve?: string;
  readonly pss?: boolean;
}

const FOREIGN_ALGORITHMS: Readonly<Record<string, ForeignAlgorithm>> = {
  RS256: { digest: "sha256", keyType: "rsa" },
  RS384: { digest: "sha384", keyType: "rsa" },
  RS512: { digest: "sha512", keyType: "rsa" },
  PS256: { digest: "sha256", keyType: "rsa", pss: true },
  PS384: { digest: "sha384", keyType: "rsa", pss: true },
  PS512: { digest: "sha512", keyType: "rsa", pss: true },
  ES256: { digest: "sha256", keyType: "ec", curve: "prime256v1" },
  ES384: { digest: "sha384", keyType: "ec", curve: "secp384r1" },
  ES512: { digest: "sha512", keyType: "ec", curve: "secp521r1" },
  EdDSA: { digest: null, keyType: "okp" },
};

const DIGEST_BYTES = { sha256: 32, sha384: 48, sha512: 64 } as const;

/** Whether this module can check `alg` at all. */
export function isForeignAlgorithm(alg: string): boolean {
  return Object.hasOwn(FOREIGN_ALGORITHMS, alg);
}

function keyFits(spec: ForeignAlgorithm, key: KeyObject): boolean {
  if (key.type !== "public") return false;
  const details = key.asymmetricKeyDetails;
  switch (spec.keyType) {
    case "rsa":
      return (key.asymmetricKeyType === "rsa" || (spec.pss === true && key.asymmetricKeyType === "rsa-pss")) && (details?.modulusLength ?? 0) >= 2048;
    case "ec":
      return key.asymmetricKeyType === "ec" && details?.namedCurve === spec.curve;
    case "okp":
      return key.asymmetricKeyType === "ed25519" || key.asymmetricKeyType === "ed448";
  }
}

/**
 * "valid" or "invalid" for the signature over `signingInput`; "unfit-key" when the key is not of
 * the algorithm's type, or the algorithm is not one this module checks.
 */
export function verifyForeignJwsSignature(alg: string, key: KeyObject, signingInput: string, signature: Buffer): "valid" | "invalid" | "unfit-key" {
  const spec = Object.hasOwn(FOREIGN_ALGORITHMS, alg) ? FOREIGN_ALGORITHMS[alg]! : undefined;
  if (!spec || !keyFits(spec, key)) return "unfit-key";
  const keyInput: VerifyKeyObjectInput = spec.pss
    ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: DIGEST_BYTES[spec.digest!] }
    : spec.keyType === "ec"
      ? { key, dsaEncoding: "ieee-p1363" }
      : { key };
  try {
    return verify(spec.digest, Buffer.from(signingInput, "latin1"), keyInput, signature) ? "valid" : "invalid";
  } catch {
    // A signature of the wrong length or shape for the key: not a valid one.
    return "invalid";
  }
}
