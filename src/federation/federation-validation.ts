/**
 * Rules for trusted issuers, federation policies and delegation policies, shared by create and
 * update. Each failure names the field at fault, as the client rules do.
 */
import { createPublicKey, type JsonWebKey } from "node:crypto";
import { RESERVED_CLAIMS } from "../clients/claims-template.js";
import type { JsonObject } from "../clients/client.js";
import { checkAudiences, checkJsonField, checkStorableText, invalidArgument } from "../clients/client-validation.js";
import type { ClaimCondition, ClaimConditionOperator } from "./federation.js";

/**
 * Algorithms a trusted issuer may be allowed: asymmetric only. `none` would accept unsigned
 * tokens, and HMAC would make the issuer's public key a shared secret anyone could sign with
 * (RFC 8725 §2.1, §3.1).
 */
export const FEDERATION_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"] as const;

export const FEDERATION_LIMITS = {
  issuerLength: 512,
  uriLength: 2_048,
  jwksBytes: 64 * 1024,
  keyCount: 100,
  audienceCount: 32,
  /** Tokens living up to a day are accepted by default; no issuer may allow more than a week. */
  defaultMaxTokenLifetimeSeconds: 24 * 60 * 60,
  maxTokenLifetimeSeconds: 7 * 24 * 60 * 60,
  defaultClockToleranceSeconds: 60,
  maxClockToleranceSeconds: 5 * 60,
  trustDomainLength: 255,
  subjectLength: 512,
  conditionCount: 16,
  conditionClaimLength: 256,
  conditionValueCount: 32,
  conditionValueLength: 512,
  copiedClaimCount: 32,
  copiedClaimLength: 256,
} as const;

/** Members of private or symmetric keys (RFC 7518 §6.2.2, §6.3.1, §6.4.1); a verification JWKS holds none. */
const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
const ASYMMETRIC_KEY_TYPES = new Set(["RSA", "EC", "OKP"]);

/** An absolute http(s) URL without fragment; `https` only unless `allowHttp`. */
export function checkUrl(value: string, field: string, options: { maxLength: number; allowHttp: boolean }): void {
  if (value.length === 0) throw invalidArgument(field, "is required");
  if (value.length > options.maxLength) throw invalidArgument(field, `must be at most ${options.maxLength} characters`);
  checkStorableText(value, field);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidArgument(field, "must be an absolute URL");
  }
  const schemes = options.allowHttp ? ["https:", "http:"] : ["https:"];
  if (!schemes.includes(url.protocol)) throw invalidArgument(field, `must be an ${options.allowHttp ? "https or http" : "https"} URL`);
  // OIDC Discovery §4.3 and RFC 8414 §2: an issuer identifier has no query or fragment; a
  // fragment is never sent to a server, so it cannot be part of any fetched location either.
  if (value.includes("#")) throw invalidArgument(field, "must not contain a fragment");
  if (url.username || url.password) throw invalidArgument(field, "must not contain credentials");
  if (/[\s\u0000-\u001f\u007f]/.test(value)) throw invalidArgument(field, "must not contain spaces or control characters");
}

/**
 * The issuer identifier: compared with `iss` character for character (RFC 7519 §4.1.1), so it
 * is stored exactly as given. http is allowed for development clusters; fetching keys over
 * plain HTTP is a separate decision of the key fetcher.
 */
export function checkIssuer(issuer: string, field = "issuer"): void {
  checkUrl(issuer, field, { maxLength: FEDERATION_LIMITS.issuerLength, allowHttp: true });
  if (new URL(issuer).search) throw invalidArgument(field, "must not contain a query (OIDC Discovery §4.3)");
}

/** A pasted JWKS or SPIFFE bundle: bounded, public asymmetric keys only. */
export function checkPublicJwks(jwks: JsonObject, field: string): void {
  checkJsonField(jwks, field, FEDERATION_LIMITS.jwksBytes);
  const keys = jwks.keys;
  if (!Array.isArray(keys)) throw invalidArgument(field, "must be a JWKS: an object with a keys array (RFC 7517 §5)");
  if (keys.length === 0) throw invalidArgument(field, "must hold at least one key");
  if (keys.length > FEDERATION_LIMITS.keyCount) throw invalidArgument(field, `must hold at most ${FEDERATION_LIMITS.keyCount} keys`);
  keys.forEach((key, index) => {
    const problem = publicKeyProblem(key);
    if (problem) throw invalidArgument(`${field}.keys[${index}]`, problem);
  });
}

function publicKeyProblem(key: unknown): string | undefined {
  if (typeof key !== "object" || key === null || Array.isArray(key)) return "must be a JWK object";
  const jwk = key as JsonObject;
  if (jwk.kty === "oct") return "symmetric (oct) keys are refused: a shared secret cannot identify an issuer";
  if (typeof jwk.kty !== "string" || !ASYMMETRIC_KEY_TYPES.has(jwk.kty)) return "kty must be RSA, EC or OKP";
  if (PRIVATE_JWK_MEMBERS.some((member) => member in jwk)) return "must hold public keys only (no private or symmetric key members)";
  if (jwk.alg !== undefined && !(FEDERATION_ALGORITHMS as readonly unknown[]).includes(jwk.alg)) {
    return `alg must be one of ${FEDERATION_ALGORITHMS.join(", ")}`;
  }
  if (jwk.kid !== undefined && (typeof jwk.kid !== "string" || jwk.kid.length === 0 || jwk.kid.length > 256)) {
    return "kid must be a string of 1 to 256 characters";
  }
  // SPIFFE bundles also carry X.509 authorities (use "x509-svid"); those are certificates'
  // keys and are checked the same way.
  try {
    createPublicKey({ key: jwk as JsonWebKey, format: "jwk" });
  } catch {
    return "is not a valid public JWK";
  }
  return undefined;
}

/** Empty means every algorithm of FEDERATION_ALGORITHMS. */
export function checkAllowedAlgorithms(algorithms: readonly string[], field = "allowed_algorithms"): string[] {
  if (algorithms.length === 0) return [...FEDERATION_ALGORITHMS];
  for (const alg of algorithms) {
    if (!(FEDERATION_ALGORITHMS as readonly string[]).includes(alg)) {
      throw invalidArgument(field, `${JSON.stringify(alg.slice(0, 20))} is not allowed; use ${FEDERATION_ALGORITHMS.join(", ")} (never none or HMAC)`);
    }
  }
  if (new Set(algorithms).size !== algorithms.length) throw invalidArgument(field, "must not repeat a value");
  return [...algorithms];
}

export function checkIssuerAudiences(audiences: readonly string[]): void {
  if (audiences.length > FEDERATION_LIMITS.audienceCount) throw invalidArgument("audiences", `at most ${FEDERATION_LIMITS.audienceCount} audiences`);
  checkAudiences(audiences, "audiences");
}

/** A duration in whole seconds within [min, max]; null takes the default. */
export function checkSeconds(value: number | null, field: string, bounds: { min: number; max: number; fallback: number }): number {
  if (value === null) return bounds.fallback;
  if (!Number.isInteger(value) || value < bounds.min || value > bounds.max) {
    throw invalidArgument(field, `must be between ${bounds.min} s and ${bounds.max} s`);
  }
  return value;
}

/** SPIFFE trust domain names (SPIFFE ID §2.1): lowercase letters, digits, dots, dashes and underscores. */
export function checkTrustDomain(trustDomain: string, field = "spiffe.trust_domain"): void {
  if (trustDomain.length === 0) throw invalidArgument(field, "is required");
  if (trustDomain.length > FEDERATION_LIMITS.trustDomainLength || !/^[a-z0-9._-]+$/.test(trustDomain)) {
    throw invalidArgument(field, "must be a SPIFFE trust domain name: lowercase letters, digits, dots, dashes and underscores");
  }
}

/** The subject pattern: exact, or a glob where `*` matches any run of characters. */
export function checkSubjectPattern(subject: string, field = "subject"): void {
  if (subject.length === 0) throw invalidArgument(field, "is required");
  if (subject.length > FEDERATION_LIMITS.subjectLength) throw invalidArgument(field, `must be at most ${FEDERATION_LIMITS.subjectLength} characters`);
  if (/[\u0000-\u001f\u007f]/.test(subject)) throw invalidArgument(field, "must not contain control characters");
  checkStorableText(subject, field);
  // A bare `*` would admit every token of the issuer, whoever it was minted for.
  if (/^\**$/.test(subject)) throw invalidArgument(field, "must not match every subject; name at least part of it");
}

const COPYABLE_SUBJECT = "sub";

const OPERATORS: readonly ClaimConditionOperator[] = ["equals", "glob", "one_of"];

export function checkClaimConditions(conditions: readonly ClaimCondition[], field = "claim_conditions"): void {
  if (conditions.length > FEDERATION_LIMITS.conditionCount) throw invalidArgument(field, `at most ${FEDERATION_LIMITS.conditionCount} conditions`);
  conditions.forEach((condition, index) => {
    const at = `${field}[${index}]`;
    checkClaimPath(condition.claim, `${at}.claim`);
    if (!OPERATORS.includes(condition.operator)) throw invalidArgument(`${at}.operator`, "must be EQUALS, GLOB or ONE_OF");
    const { values } = condition;
    if (condition.operator === "one_of") {
      if (values.length === 0 || values.length > FEDERATION_LIMITS.conditionValueCount) {
        throw invalidArgument(`${at}.values`, `ONE_OF needs 1 to ${FEDERATION_LIMITS.conditionValueCount} values`);
      }
    } else if (values.length !== 1) {
      throw invalidArgument(`${at}.values`, `${condition.operator.toUpperCase()} needs exactly one value`);
    }
    for (const value of values) {
      if (value.length > FEDERATION_LIMITS.conditionValueLength) {
        throw invalidArgument(`${at}.values`, `each value must be at most ${FEDERATION_LIMITS.conditionValueLength} characters`);
      }
      checkStorableText(value, `${at}.values`);
    }
  });
}

function checkClaimPath(claim: string, field: string): void {
  if (claim.length === 0 || claim.length > FEDERATION_LIMITS.conditionClaimLength) {
    throw invalidArgument(field, `must be 1 to ${FEDERATION_LIMITS.conditionClaimLength} characters`);
  }
  if (/[\s\u0000-\u001f\u007f]/.test(claim) || claim.startsWith(".") || claim.endsWith(".") || claim.includes("..")) {
    throw invalidArgument(field, "must be a dotted claim path without spaces or empty parts");
  }
  checkStorableText(claim, field);
}

/**
 * Copied claims become `{{assertion.<claim>}}` values of the client's template, which itself may
 * not set a reserved claim. The reserved names are refused here too, because they describe the
 * external token rather than its workload (`aud`, `exp`, `scope`, `act`, …) — except `sub`: the
 * external subject reaching the issued token (under another name) is the point of copying.
 */
export function checkCopiedClaims(claims: readonly string[], field = "copied_claims"): void {
  if (claims.length > FEDERATION_LIMITS.copiedClaimCount) throw invalidArgument(field, `at most ${FEDERATION_LIMITS.copiedClaimCount} claims`);
  for (const claim of claims) {
    if (claim.length > FEDERATION_LIMITS.copiedClaimLength) throw invalidArgument(field, `each claim must be at most ${FEDERATION_LIMITS.copiedClaimLength} characters`);
    checkClaimPath(claim, field);
    if (RESERVED_CLAIMS.has(claim) && claim !== COPYABLE_SUBJECT) throw invalidArgument(field, `${claim} is a reserved claim and cannot be copied`);
  }
  if (new Set(claims).size !== claims.length) throw invalidArgument(field, "must not repeat a value");
}
