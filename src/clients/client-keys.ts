/**
 * The public keys a client registers for private_key_jwt (RFC 7523 §2.2): which keys can verify
 * its assertions, and with which algorithms. Registration refuses any other key with a reason;
 * authentication uses only keys that pass the same rules, so a weak key stored before a rule
 * existed fails closed instead of reaching the JOSE library.
 */
import { createPublicKey, type JsonWebKey, type KeyObject } from "node:crypto";
import type { JsonObject } from "./client.js";

/** Asymmetric algorithms only: a shared-secret HS256 assertion would need the secret stored in clear. */
export const ASSERTION_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"] as const;
export type AssertionAlgorithm = (typeof ASSERTION_ALGORITHMS)[number];

export const CLIENT_KEY_LIMITS = {
  keyCount: 10,
  jwksBytes: 32 * 1024,
  kidLength: 256,
  /** NIST SP 800-131A: RSA below 2048 bits no longer protects signatures. */
  minRsaBits: 2048,
  /** Above this a key only makes each verification slower, at the server's expense. */
  maxRsaBits: 8192,
} as const;

/** RFC 7518 §3.4: each ECDSA algorithm is defined on one curve. */
const EC_CURVES: Readonly<Record<string, { readonly nodeCurve: string; readonly algorithm: AssertionAlgorithm }>> = {
  "P-256": { nodeCurve: "prime256v1", algorithm: "ES256" },
  "P-384": { nodeCurve: "secp384r1", algorithm: "ES384" },
  "P-521": { nodeCurve: "secp521r1", algorithm: "ES512" },
};

/** RFC 8037 §3.1: EdDSA signs with Ed25519 (Ed448 is not among our algorithms); X25519 and X448 are for key agreement. */
const OKP_CURVES: Readonly<Record<string, { readonly nodeType: string; readonly algorithm: AssertionAlgorithm }>> = {
  Ed25519: { nodeType: "ed25519", algorithm: "EdDSA" },
};

const RSA_ALGORITHMS: readonly AssertionAlgorithm[] = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];

/** Members of private or symmetric keys (RFC 7518 §6.2.2, §6.3.2, §6.4.1): a JWKS for verification holds none. */
const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Why this JWK cannot verify client assertions; undefined when it can. Checks the members
 * (RFC 7517 §4: use, key_ops, alg) and then the key itself, as node:crypto reads it.
 */
export function assertionKeyProblem(key: unknown): string | undefined {
  if (!isObject(key)) return "every key must be a JWK object";
  if (PRIVATE_JWK_MEMBERS.some((member) => member in key)) return "must hold public keys only (no private or symmetric key members)";
  if (key.kid !== undefined && (typeof key.kid !== "string" || key.kid.length === 0 || key.kid.length > CLIENT_KEY_LIMITS.kidLength)) {
    return `kid must be a string of 1 to ${CLIENT_KEY_LIMITS.kidLength} characters`;
  }
  // RFC 7517 §4.2, §4.3: a key for verifying signatures is "sig", and its only operation is "verify".
  if (key.use !== undefined && key.use !== "sig") return 'use must be "sig": these keys verify client assertions';
  if (key.key_ops !== undefined) {
    const ops = key.key_ops;
    if (!Array.isArray(ops) || ops.length === 0 || !ops.every((op) => op === "verify")) return 'key_ops must be ["verify"]';
  }
  if (key.alg !== undefined && !(ASSERTION_ALGORITHMS as readonly unknown[]).includes(key.alg)) {
    return `alg must be one of ${ASSERTION_ALGORITHMS.join(", ")}`;
  }
  let keyObject: KeyObject;
  try {
    keyObject = createPublicKey({ key: key as JsonWebKey, format: "jwk" });
  } catch {
    return "is not a valid public JWK";
  }
  const accepts = (algorithms: readonly AssertionAlgorithm[]): string | undefined =>
    key.alg === undefined || algorithms.includes(key.alg as AssertionAlgorithm) ? undefined : `alg ${String(key.alg)} does not fit a ${String(key.kty)} key`;
  switch (key.kty) {
    case "RSA": {
      const bits = keyObject.asymmetricKeyDetails?.modulusLength ?? 0;
      if (keyObject.asymmetricKeyType !== "rsa" || bits < CLIENT_KEY_LIMITS.minRsaBits || bits > CLIENT_KEY_LIMITS.maxRsaBits) {
        return `RSA keys must have a modulus of ${CLIENT_KEY_LIMITS.minRsaBits} to ${CLIENT_KEY_LIMITS.maxRsaBits} bits (this one has ${bits})`;
      }
      return accepts(RSA_ALGORITHMS);
    }
    case "EC": {
      const curve = typeof key.crv === "string" ? EC_CURVES[key.crv] : undefined;
      if (!curve || keyObject.asymmetricKeyDetails?.namedCurve !== curve.nodeCurve) return "EC keys must be on P-256, P-384 or P-521";
      return accepts([curve.algorithm]);
    }
    case "OKP": {
      const curve = typeof key.crv === "string" ? OKP_CURVES[key.crv] : undefined;
      if (!curve || keyObject.asymmetricKeyType !== curve.nodeType) return "OKP keys must be Ed25519 (X25519 and X448 cannot sign)";
      return accepts([curve.algorithm]);
    }
    default:
      return "keys must be RSA, EC or OKP";
  }
}

/**
 * Why this JWK Set cannot be registered; undefined when it can: 1 to 10 keys that each pass
 * assertionKeyProblem, with distinct kids, in at most 32 KiB of JSON.
 */
export function clientJwksProblem(jwks: JsonObject): string | undefined {
  const keys = jwks.keys;
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > CLIENT_KEY_LIMITS.keyCount) {
    return `must be a JWK Set with 1 to ${CLIENT_KEY_LIMITS.keyCount} keys`;
  }
  if (Buffer.byteLength(JSON.stringify(jwks), "utf8") > CLIENT_KEY_LIMITS.jwksBytes) return `must be at most ${CLIENT_KEY_LIMITS.jwksBytes} bytes as JSON`;
  const kids = new Set<unknown>();
  for (const [index, key] of keys.entries()) {
    const problem = assertionKeyProblem(key);
    const name = isObject(key) && typeof key.kid === "string" ? `key ${JSON.stringify(key.kid.slice(0, 40))}` : `key ${index}`;
    if (problem) return `${name}: ${problem}`;
    const kid = (key as JsonObject).kid;
    if (kid !== undefined) {
      // A kid names one key (RFC 7517 §4.5); two keys under one kid leave the choice to chance.
      if (kids.has(kid)) return `${name}: kid must not repeat`;
      kids.add(kid);
    }
  }
  return undefined;
}

/**
 * The registered keys that may verify an assertion now. Keys stored before a rule existed (or
 * written around the admin API) and failing it are left out: the client then fails to
 * authenticate, as it would with no key, rather than meeting an error in the JOSE library.
 */
export function usableAssertionKeys(jwks: JsonObject | null): JsonObject[] {
  if (!jwks || !Array.isArray(jwks.keys) || jwks.keys.length > CLIENT_KEY_LIMITS.keyCount) return [];
  return jwks.keys.filter((key): key is JsonObject => assertionKeyProblem(key) === undefined);
}
