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

export type JsonObject = { [key: string]: JsonValue };
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;

/** Tools' key-value pairs on a resource (AIP-128); validated by checkAnnotations. */
export type Annotations = Readonly<Record<string, string>>;

export interface Client {
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
