/**
 * Per-client custom claims (as Stytch's custom claim templates): static values, or values
 * taken from the client's trusted metadata with "{{metadata.path.to.value}}". Registered
 * claims are reserved so a template can never forge who or what a token is for.
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

/** The claims a client's template adds; references to absent metadata are left out. */
export function renderCustomClaims(template: JsonObject, metadata: JsonObject): Record<string, JsonValue> {
  const claims: Record<string, JsonValue> = {};
  for (const [name, value] of Object.entries(template)) {
    if (RESERVED_CLAIMS.has(name)) continue;
    const reference = typeof value === "string" ? METADATA_REFERENCE.exec(value) : null;
    if (!reference) {
      claims[name] = value;
      continue;
    }
    const resolved = lookup(metadata, reference[1]!);
    if (resolved !== undefined) claims[name] = resolved;
  }
  return claims;
}
