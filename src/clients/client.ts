/**
 * The machine client entity as the domain sees it. Storage rows and protobuf messages are
 * converted to and from this shape at the edges.
 */
import { revisionEtag } from "../etag.js";
import type { SigningAlgorithm } from "../keys/algorithms.js";

export type ClientStatus = "active" | "inactive";

/**
 * The client_id alphabet: RFC 3986 unreserved characters, which need no encoding anywhere.
 * Every stored id matches it, so an id that does not names no client.
 */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9._~-]{3,128}$/;

/**
 * How a client authenticates at the token endpoint (RFC 7591 §2 `token_endpoint_auth_method`,
 * RFC 8705 §2.1.1 and §2.2.1 for the certificate methods, draft-ietf-oauth-spiffe-client-auth
 * for `spiffe_jwt`). Unset (null), a client authenticates as before this field existed: with
 * its secret (Basic or in the body) or a jwt-bearer assertion, never by certificate.
 */
export const TOKEN_ENDPOINT_AUTH_METHODS = [
  "client_secret_basic",
  "client_secret_post",
  "private_key_jwt",
  "spiffe_jwt",
  "tls_client_auth",
  "self_signed_tls_client_auth",
] as const;
export type TokenEndpointAuthMethod = (typeof TOKEN_ENDPOINT_AUTH_METHODS)[number];

/**
 * What a `tls_client_auth` client's certificate must carry (RFC 8705 §2.1.2): exactly one of
 * them is set, and only for that method.
 */
export interface TlsClientAuthNames {
  /** RFC 4514 string of the expected subject distinguished name. */
  readonly tlsClientAuthSubjectDn: string | null;
  /** A dNSName SAN entry. */
  readonly tlsClientAuthSanDns: string | null;
  /** A uniformResourceIdentifier SAN entry. */
  readonly tlsClientAuthSanUri: string | null;
  /** An iPAddress SAN entry, in textual form (IPv4 dotted or IPv6). */
  readonly tlsClientAuthSanIp: string | null;
  /** An rfc822Name SAN entry. */
  readonly tlsClientAuthSanEmail: string | null;
}

export const TLS_CLIENT_AUTH_NAME_FIELDS = [
  ["tlsClientAuthSubjectDn", "tls_client_auth_subject_dn"],
  ["tlsClientAuthSanDns", "tls_client_auth_san_dns"],
  ["tlsClientAuthSanUri", "tls_client_auth_san_uri"],
  ["tlsClientAuthSanIp", "tls_client_auth_san_ip"],
  ["tlsClientAuthSanEmail", "tls_client_auth_san_email"],
] as const satisfies readonly (readonly [keyof TlsClientAuthNames, string])[];

export type JsonObject = { [key: string]: JsonValue };
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;

/** Tools' key-value pairs on a resource (AIP-128); validated by checkAnnotations. */
export type Annotations = Readonly<Record<string, string>>;

export interface Client extends TlsClientAuthNames {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly status: ClientStatus;
  readonly allowedScopes: readonly string[];
  readonly defaultScopes: readonly string[];
  readonly allowedAudiences: readonly string[];
  readonly defaultAudiences: readonly string[];
  readonly trustedMetadata: JsonObject;
  /** null: the server default lifetime. */
  readonly tokenLifetimeSeconds: number | null;
  /** null: the server default algorithm. */
  readonly signingAlg: SigningAlgorithm | null;
  readonly claimsTemplate: JsonObject;
  readonly jwks: JsonObject | null;
  /** Where the client publishes its private_key_jwt keys instead of `jwks` (an https URL); null: none. */
  readonly jwksUri: string | null;
  readonly expireTime: Date | null;
  /** The one way this client authenticates; null: a secret or a jwt-bearer assertion, as before the field. */
  readonly tokenEndpointAuthMethod: TokenEndpointAuthMethod | null;
  readonly refreshTokensEnabled: boolean;
  /** RFC 9449 §5.2 `dpop_bound_access_tokens`: every token request must carry a DPoP proof. */
  readonly dpopBoundAccessTokens: boolean;
  /** Per-client override of the token-endpoint rate limit (requests/s); null: the server default. */
  readonly rateLimitPerSecond: number | null;
  /** Key-value pairs for tools (AIP-128), e.g. the marker `tessera apply` sets; never read by the token path. */
  readonly annotations: Annotations;
  /**
   * Access tokens issued before this instant are inactive. Set to the moment the client is
   * created, changes status or comes back from expiry, so tokens of a deleted, deactivated or
   * expired client never come back to life. Compared to the
   * millisecond (the token id carries its issue time to the millisecond), since `iat` alone
   * cannot tell a token issued just before a change from one issued just after it in the same second.
   */
  readonly tokensNotBefore: Date;
  /** Incremented on every change; the etag. */
  readonly revision: number;
  readonly createTime: Date;
  readonly updateTime: Date;
}

export type SecretSlot = "current" | "next";

/** A secret as stored: its hash, never the secret. */
export interface ClientSecretHash {
  readonly slot: SecretSlot;
  readonly algorithm: "sha256";
  /** Lowercase hex digest. */
  readonly hash: string;
  readonly lastFour: string;
  readonly createTime: Date;
}

/** A client together with the hashes of the secrets that authenticate it. */
export interface ClientRecord {
  readonly client: Client;
  readonly secrets: readonly ClientSecretHash[];
}

export function clientEtag(client: Client): string {
  return revisionEtag(client);
}
