/**
 * Rules for client fields, shared by create, import and update. Each failure names the field
 * so admin callers see exactly what to fix.
 */
import { TesseraError } from "../errors.js";
import { reservedTemplateClaims } from "./claims-template.js";
import { CLIENT_KEY_LIMITS, clientJwksProblem } from "./client-keys.js";
import { chosenSecretWeakness } from "./client-secret.js";
import { isIP } from "node:net";
import {
  CLIENT_ID_PATTERN,
  TLS_CLIENT_AUTH_NAME_FIELDS,
  TOKEN_ENDPOINT_AUTH_METHODS,
  type Client,
  type JsonObject,
  type JsonValue,
  type TlsClientAuthNames,
} from "./client.js";
import { parseRfc4514 } from "./distinguished-name.js";

export const LIMITS = {
  nameLength: 200,
  descriptionLength: 2_000,
  scopeCount: 100,
  scopeLength: 200,
  audienceCount: 50,
  audienceLength: 512,
  trustedMetadataBytes: 16 * 1024,
  claimsTemplateBytes: 8 * 1024,
  /** Far above what one replica serves; the bound only keeps the value a sane integer. */
  rateLimitPerSecond: 1_000_000,
} as const;

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

export function invalidArgument(field: string, message: string): TesseraError {
  return new TesseraError("invalid_argument", `${field}: ${message}`, field);
}

/**
 * Text is stored as UTF-8: a string with a lone UTF-16 surrogate has no UTF-8 form and would
 * be changed (or refused) on the way in, and PostgreSQL text cannot hold NUL.
 */
export function checkStorableText(value: string, field: string): void {
  if (!isStorableText(value)) throw invalidArgument(field, "must be well-formed Unicode without NUL characters");
}

export function checkClientId(clientId: string, field = "client_id"): void {
  if (!CLIENT_ID_PATTERN.test(clientId)) throw invalidArgument(field, "must be 3–128 characters of A-Z a-z 0-9 . _ ~ -");
}

export function checkName(name: string): void {
  if (name.trim().length === 0) throw invalidArgument("name", "is required");
  checkNameText(name, "name");
}

/** Prefix filters match names, so a prefix obeys the rules of names (it may be empty). */
export function checkNamePrefix(prefix: string): void {
  checkNameText(prefix, "name_prefix");
}

function checkNameText(text: string, field: string): void {
  if (text.length > LIMITS.nameLength) throw invalidArgument(field, `must be at most ${LIMITS.nameLength} characters`);
  if (/[\u0000-\u001f\u007f]/.test(text)) throw invalidArgument(field, "must not contain control characters");
  checkStorableText(text, field);
}

export function checkDescription(description: string): void {
  if (description.length > LIMITS.descriptionLength) {
    throw invalidArgument("description", `must be at most ${LIMITS.descriptionLength} characters`);
  }
  // Line breaks and tabs are prose; other control characters (NUL above all, which
  // PostgreSQL text cannot hold) are not.
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(description)) {
    throw invalidArgument("description", "must not contain control characters other than tab and line breaks");
  }
  checkStorableText(description, "description");
}

export function checkScopes(scopes: readonly string[], field = "scopes"): void {
  if (scopes.length > LIMITS.scopeCount) throw invalidArgument(field, `at most ${LIMITS.scopeCount} scopes`);
  for (const scope of scopes) {
    if (!SCOPE_TOKEN.test(scope) || scope.length > LIMITS.scopeLength) {
      throw invalidArgument(field, `${JSON.stringify(scope.slice(0, 50))} is not a valid scope token (RFC 6749 §3.3)`);
    }
  }
  if (new Set(scopes).size !== scopes.length) throw invalidArgument(field, "must not repeat a value");
}

export function checkAudiences(audiences: readonly string[], field = "audiences"): void {
  if (audiences.length > LIMITS.audienceCount) throw invalidArgument(field, `at most ${LIMITS.audienceCount} audiences`);
  for (const audience of audiences) {
    if (audience.length === 0 || audience.length > LIMITS.audienceLength || /[\s\u0000-\u001f\u007f]/.test(audience)) {
      throw invalidArgument(field, `${JSON.stringify(audience.slice(0, 50))} is not a valid audience`);
    }
    checkStorableText(audience, field);
  }
  if (new Set(audiences).size !== audiences.length) throw invalidArgument(field, "must not repeat a value");
}

export function checkSubset(subset: readonly string[], of: readonly string[], field: string, ofField: string): void {
  const allowed = new Set(of);
  const extra = subset.filter((value) => !allowed.has(value));
  if (extra.length > 0) throw invalidArgument(field, `${extra.join(", ")} not in ${ofField}`);
}

/** A JSON field is stored as PostgreSQL jsonb: bounded in size, and free of NUL, which jsonb refuses. */
/**
 * AIP-128 annotations: bounded in entries and bytes like every caller-keyed map. Keys follow the
 * Kubernetes shape (an optional DNS-style prefix and `/`, then a name) so tools can namespace theirs.
 */
const ANNOTATION_KEY = /^(?:[a-z0-9](?:[-a-z0-9.]{0,61}[a-z0-9])?\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
export const ANNOTATION_LIMITS = { entries: 32, keyLength: 128, valueLength: 512 } as const;

export function checkAnnotations(annotations: Readonly<Record<string, string>>, field = "annotations"): void {
  const entries = Object.entries(annotations);
  if (entries.length > ANNOTATION_LIMITS.entries) throw invalidArgument(field, `must have at most ${ANNOTATION_LIMITS.entries} entries`);
  for (const [key, value] of entries) {
    if (key.length > ANNOTATION_LIMITS.keyLength || !ANNOTATION_KEY.test(key)) {
      throw invalidArgument(field, "keys are an optional DNS-style prefix and '/', then 1 to 63 of [A-Za-z0-9._-]");
    }
    if (typeof value !== "string" || value.length > ANNOTATION_LIMITS.valueLength || !isStorableText(value)) {
      throw invalidArgument(`${field}[${key}]`, `must be text of at most ${ANNOTATION_LIMITS.valueLength} characters`);
    }
  }
}

export function checkJsonField(value: JsonObject, field: string, maxBytes: number): void {
  if (Buffer.byteLength(JSON.stringify(value), "utf8") > maxBytes) {
    throw invalidArgument(field, `must be at most ${maxBytes} bytes as JSON`);
  }
  if (!isStorableJson(value)) {
    throw invalidArgument(field, "keys and strings must be well-formed Unicode without NUL characters");
  }
}

/** In a `u` regular expression a surrogate pair is one code point; only a lone surrogate is \p{Cs}. */
const LONE_SURROGATE = /\p{Cs}/u;

function isStorableText(text: string): boolean {
  return !LONE_SURROGATE.test(text) && !text.includes("\u0000");
}

function isStorableJson(value: JsonValue): boolean {
  if (typeof value === "string") return isStorableText(value);
  if (Array.isArray(value)) return value.every(isStorableJson);
  if (value !== null && typeof value === "object") {
    return Object.entries(value).every(([key, item]) => isStorableText(key) && isStorableJson(item));
  }
  return true;
}

export function checkRateLimit(perSecond: number | null): void {
  if (perSecond === null) return;
  if (!Number.isInteger(perSecond) || perSecond < 1 || perSecond > LIMITS.rateLimitPerSecond) {
    throw invalidArgument("rate_limit_per_second", `must be between 1 and ${LIMITS.rateLimitPerSecond}, or 0 for the server default`);
  }
}

export function checkTokenLifetime(seconds: number | null, maxSeconds: number): void {
  if (seconds === null) return;
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > maxSeconds) {
    throw invalidArgument("token_lifetime", `must be between 1 s and the server maximum of ${maxSeconds} s`);
  }
}

export function checkClaimsTemplate(template: JsonObject): void {
  checkJsonField(template, "claims_template", LIMITS.claimsTemplateBytes);
  const reserved = reservedTemplateClaims(template);
  if (reserved.length > 0) throw invalidArgument("claims_template", `reserved claims cannot be set: ${reserved.join(", ")}`);
}

/** A client's registered JWKS for private_key_jwt: the rules are in client-keys.ts. */
export function checkClientJwks(jwks: JsonObject | null): void {
  if (jwks === null) return;
  const problem = clientJwksProblem(jwks);
  if (problem) throw invalidArgument("jwks", problem);
  checkJsonField(jwks, "jwks", CLIENT_KEY_LIMITS.jwksBytes);
}

export const JWKS_URI_MAX_LENGTH = 2_048;

/**
 * A client's `jwks_uri` (RFC 7591 §2): an absolute https URL without credentials or fragment,
 * and never together with inline keys (RFC 7591 §2: "MUST NOT both be present"), which would
 * leave it unclear which keys count.
 */
export function checkClientJwksUri(jwksUri: string | null, jwks: JsonObject | null): void {
  if (jwksUri === null) return;
  if (jwks !== null) throw invalidArgument("jwks_uri", "cannot be set together with jwks: register keys one way");
  if (jwksUri.length > JWKS_URI_MAX_LENGTH) throw invalidArgument("jwks_uri", `must be at most ${JWKS_URI_MAX_LENGTH} characters`);
  checkStorableText(jwksUri, "jwks_uri");
  let url: URL;
  try {
    url = new URL(jwksUri);
  } catch {
    throw invalidArgument("jwks_uri", "must be an absolute https URL");
  }
  if (url.protocol !== "https:") throw invalidArgument("jwks_uri", "must be an absolute https URL");
  if (url.username !== "" || url.password !== "" || url.hash !== "" || /\s/.test(jwksUri)) {
    throw invalidArgument("jwks_uri", "must not carry credentials, a fragment or spaces");
  }
}

/** An imported secret was not generated by us: the rules for chosen secrets apply (client-secret.ts). */
export function checkImportedSecret(secret: string): void {
  const weakness = chosenSecretWeakness(secret);
  if (weakness) throw invalidArgument("client_secret", weakness);
}

/** Longest SAN value registered for tls_client_auth (a DNS name is at most 253; URIs vary). */
const TLS_CLIENT_AUTH_NAME_MAX_LENGTH = 1_024;

/**
 * How a client authenticates (RFC 7591 §2) and what its certificate must carry: a
 * `tls_client_auth` client names exactly one of a subject DN or a SAN (RFC 8705 §2.1.2), and
 * no other client names any; a `self_signed_tls_client_auth` client registers the keys of its
 * certificates (RFC 8705 §2.2.2), inline or by `jwks_uri`.
 */
export function checkTokenEndpointAuth(client: Pick<Client, "tokenEndpointAuthMethod" | "jwks" | "jwksUri"> & TlsClientAuthNames): void {
  const method = client.tokenEndpointAuthMethod;
  if (method !== null && !(TOKEN_ENDPOINT_AUTH_METHODS as readonly string[]).includes(method)) {
    throw invalidArgument("token_endpoint_auth_method", `must be one of ${TOKEN_ENDPOINT_AUTH_METHODS.join(", ")}`);
  }
  const named = TLS_CLIENT_AUTH_NAME_FIELDS.filter(([field]) => client[field] !== null);
  if (method !== "tls_client_auth") {
    if (named.length > 0) throw invalidArgument(named[0]![1], "is only for token_endpoint_auth_method tls_client_auth");
  } else if (named.length !== 1) {
    throw invalidArgument(
      "token_endpoint_auth_method",
      "tls_client_auth needs exactly one of tls_client_auth_subject_dn, tls_client_auth_san_dns, tls_client_auth_san_uri, tls_client_auth_san_ip, tls_client_auth_san_email",
    );
  }
  for (const [field, name] of named) {
    const value = client[field]!;
    if (value.length > TLS_CLIENT_AUTH_NAME_MAX_LENGTH) throw invalidArgument(name, `must be at most ${TLS_CLIENT_AUTH_NAME_MAX_LENGTH} characters`);
    checkStorableText(value, name);
    if (value.trim() !== value) throw invalidArgument(name, "must not start or end with spaces");
  }
  if (client.tlsClientAuthSubjectDn !== null && parseRfc4514(client.tlsClientAuthSubjectDn) === undefined) {
    throw invalidArgument("tls_client_auth_subject_dn", "must be a distinguished name in RFC 4514 form, e.g. CN=billing,O=Example");
  }
  if (client.tlsClientAuthSanIp !== null && isIP(client.tlsClientAuthSanIp) === 0) {
    throw invalidArgument("tls_client_auth_san_ip", "must be an IPv4 or IPv6 address");
  }
  if (client.tlsClientAuthSanUri !== null && !URL.canParse(client.tlsClientAuthSanUri)) {
    throw invalidArgument("tls_client_auth_san_uri", "must be an absolute URI");
  }
  if (method === "self_signed_tls_client_auth" && client.jwks === null && client.jwksUri === null) {
    throw invalidArgument("token_endpoint_auth_method", "self_signed_tls_client_auth needs the certificate's key in jwks or at jwks_uri");
  }
}
