/**
 * Per-client custom claims (as Stytch's custom claim templates): static values, or values
 * taken from the client's trusted metadata with "{{metadata.path.to.value}}", or, for tokens
 * issued on a federated assertion, from that assertion's claims with "{{assertion.<claim>}}" —
 * only the claims the matched federation policy lets through. Registered claims are reserved
 * so a template can never forge who or what a token is for.
 */
import type { JsonObject, JsonValue } from "./client.js";

/**
 * RFC 7519 §4.1, RFC 9068 §2.2, RFC 8693 §4 claims, plus ones resource servers use for
 * authorization, and `tessera_chain`, the ancestry of an exchanged token that the server's
 * verifier trusts for revocation (oauth/delegation-chain.ts).
 */
export const RESERVED_CLAIMS: ReadonlySet<string> = new Set([
  "iss", "sub", "aud", "exp", "nbf", "iat", "jti",
  "client_id", "scope", "scp", "cnf", "act", "may_act", "auth_time", "acr", "amr",
  "roles", "groups", "entitlements", "typ", "azp", "sid", "token_use", "tessera_chain",
]);

const METADATA_REFERENCE = /^\{\{\s*metadata\.([A-Za-z0-9_.-]+)\s*\}\}$/;
/** Claim paths as issuers name them: `sub`, `kubernetes.io.namespace`, `job_workflow_ref`, URIs. */
const ASSERTION_REFERENCE = /^\{\{\s*assertion\.([A-Za-z0-9_.:/-]{1,256})\s*\}\}$/;

/** The template keys that may not be used, for validation at create/update time. */
export function reservedTemplateClaims(template: JsonObject): string[] {
  return Object.keys(template).filter((name) => RESERVED_CLAIMS.has(name));
}

function lookup(metadata: JsonObject, path: string): JsonValue | undefined {
  let node: JsonValue | undefined = metadata;
  for (const part of path.split(".")) {
    if (typeof node !== "object" || node === null || Array.isArray(node)) return undefined;
    node = node[part];
  }
  return node;
}

/**
 * The incoming assertion's claims a template may copy, by the path the template names; only
 * those a federation policy allowlisted are ever put here.
 */
export type AssertionClaims = Readonly<Record<string, unknown>>;

/**
 * The claims a client's template adds; references to absent metadata are left out, and so are
 * references to assertion claims when the token was not issued on an assertion, or the claim
 * was not allowlisted.
 */
export function renderCustomClaims(template: JsonObject, metadata: JsonObject, assertion?: AssertionClaims): Record<string, JsonValue> {
  const claims: Record<string, JsonValue> = {};
  for (const [name, value] of Object.entries(template)) {
    if (RESERVED_CLAIMS.has(name)) continue;
    if (typeof value !== "string" || !value.startsWith("{{")) {
      claims[name] = value;
      continue;
    }
    const reference = METADATA_REFERENCE.exec(value);
    if (reference) {
      const resolved = lookup(metadata, reference[1]!);
      if (resolved !== undefined) claims[name] = resolved;
      continue;
    }
    const copied = ASSERTION_REFERENCE.exec(value);
    if (copied) {
      const resolved = assertion && Object.hasOwn(assertion, copied[1]!) ? assertion[copied[1]!] : undefined;
      if (resolved !== undefined) claims[name] = resolved as JsonValue;
      continue;
    }
    claims[name] = value;
  }
  return claims;
}
