/**
 * Authorization server metadata (RFC 8414 §2), rendered once at start-up. The same document is
 * served at /.well-known/openid-configuration for libraries that only look there.
 */

export interface MetadataInput {
  readonly issuer: string;
  readonly grantTypes: readonly string[];
  readonly authMethods: readonly string[];
  readonly assertionAlgorithms: readonly string[];
  readonly scopes: readonly string[];
  /** RFC 9449 §5.1 `dpop_signing_alg_values_supported`; absent when DPoP is not offered. */
  readonly dpopAlgorithms?: readonly string[] | undefined;
  /**
   * Whether client certificates reach Tessera (its own TLS with client CAs, or a trusted proxy's
   * header), so that tokens issued with one are bound to it (RFC 8705 §3, §3.3).
   */
  readonly certificateBoundTokens?: boolean | undefined;
}

/** Endpoint URLs hang off the issuer (RFC 8414 §2), which may carry a path behind a proxy. */
export function endpointUrl(issuer: string, path: string): string {
  return `${issuer.replace(/\/+$/, "")}${path}`;
}

export const TOKEN_PATH = "/oauth/token";
export const INTROSPECTION_PATH = "/oauth/introspect";
export const REVOCATION_PATH = "/oauth/revoke";
export const JWKS_PATH = "/keys";

export function renderMetadata(input: MetadataInput): string {
  const document: Record<string, unknown> = {
    issuer: input.issuer,
    token_endpoint: endpointUrl(input.issuer, TOKEN_PATH),
    jwks_uri: endpointUrl(input.issuer, JWKS_PATH),
    introspection_endpoint: endpointUrl(input.issuer, INTROSPECTION_PATH),
    introspection_endpoint_auth_methods_supported: [...input.authMethods, "bearer"],
    revocation_endpoint: endpointUrl(input.issuer, REVOCATION_PATH),
    revocation_endpoint_auth_methods_supported: [...input.authMethods, "bearer"],
    grant_types_supported: input.grantTypes,
    token_endpoint_auth_methods_supported: input.authMethods,
    scopes_supported: input.scopes,
    // Tessera has no authorization endpoint: machine clients use the token endpoint only.
    response_types_supported: [],
  };
  // RFC 8705 §3.3. No `mtls_endpoint_aliases` (§5): the endpoints above serve mutual TLS
  // themselves, on the one port, asking for (never requiring) a certificate.
  if (input.certificateBoundTokens) document.tls_client_certificate_bound_access_tokens = true;
  if (input.authMethods.includes("private_key_jwt")) {
    document.token_endpoint_auth_signing_alg_values_supported = input.assertionAlgorithms;
    document.introspection_endpoint_auth_signing_alg_values_supported = input.assertionAlgorithms;
    document.revocation_endpoint_auth_signing_alg_values_supported = input.assertionAlgorithms;
  }
  if (input.dpopAlgorithms) document.dpop_signing_alg_values_supported = input.dpopAlgorithms;
  return JSON.stringify(document);
}
