/**
 * Workload identity federation (RFC 7523 §2.1, RFC 8693, draft-ietf-oauth-spiffe-client-auth):
 * the resources an operator manages and the in-memory directory the token path reads. Trusted
 * issuers say whose tokens we accept and where their keys come from; federation policies say
 * which Tessera client such a token stands for; delegation policies say which client may
 * exchange Tessera tokens on another's behalf (RFC 8693 §1.1 delegation).
 */
import type { Annotations, JsonObject } from "../clients/client.js";

/** Where a trusted issuer's verification keys come from. */
export type IssuerKeySource =
  /** OIDC discovery: `{issuer}/.well-known/openid-configuration` → `jwks_uri`. */
  | { readonly kind: "discovery" }
  | { readonly kind: "jwks_uri"; readonly jwksUri: string }
  /** Pasted keys, for air-gapped clusters. */
  | { readonly kind: "jwks"; readonly jwks: JsonObject }
  /** A SPIFFE trust bundle (JWT-SVID authorities), from its bundle endpoint or pasted. */
  | { readonly kind: "spiffe"; readonly trustDomain: string; readonly bundleEndpoint: string | null; readonly bundle: JsonObject | null };

export interface TrustedIssuer {
  /** The exact `iss` its tokens carry; the resource's id. */
  readonly issuer: string;
  readonly description: string;
  readonly keySource: IssuerKeySource;
  /** A token is accepted when its `aud` holds at least one of these; empty means Tessera's issuer. */
  readonly audiences: readonly string[];
  /** JWS algorithms accepted (never `none`, never HMAC). */
  readonly allowedAlgorithms: readonly string[];
  /** Longest `exp - iat` accepted. */
  readonly maxTokenLifetimeSeconds: number;
  /** Oldest `iat` accepted, in seconds before now; null: no age limit beyond the lifetime. */
  readonly maxTokenAgeSeconds: number | null;
  readonly clockToleranceSeconds: number;
  /** Refuse a second use of the same `jti` (workload tokens are reused by design, so off by default). */
  readonly singleUse: boolean;
  /** Tools' key-value pairs (AIP-128); never read by the token path. */
  readonly annotations: Annotations;
  readonly revision: number;
  readonly createTime: Date;
  readonly updateTime: Date;
}

export type ClaimConditionOperator = "equals" | "glob" | "one_of";

/**
 * A condition on one claim of the incoming token. `claim` is a dotted path into nested objects;
 * a key may itself hold dots (Kubernetes' `kubernetes.io`), so `kubernetes.io.namespace` finds
 * `{"kubernetes.io": {"namespace": …}}`.
 */
export interface ClaimCondition {
  readonly claim: string;
  readonly operator: ClaimConditionOperator;
  /** One value for equals and glob; the allowed values for one_of. */
  readonly values: readonly string[];
}

export interface FederationPolicy {
  readonly id: string;
  readonly issuer: string;
  readonly clientId: string;
  /** The incoming `sub`: exact, or a glob where `*` matches any run of characters. */
  readonly subject: string;
  readonly claimConditions: readonly ClaimCondition[];
  /**
   * Incoming claims the client's claims template may copy into the issued token
   * (`{{assertion.<claim>}}`); none unless named here.
   */
  readonly copiedClaims: readonly string[];
  readonly description: string;
  /** Tools' key-value pairs (AIP-128); never read by the token path. */
  readonly annotations: Annotations;
  readonly revision: number;
  readonly createTime: Date;
  readonly updateTime: Date;
}

export interface DelegationPolicy {
  readonly id: string;
  /** The actor: the client that exchanges a token it received. */
  readonly clientId: string;
  /** Audiences a subject token must carry for this actor to exchange it; the actor's own id always counts. */
  readonly subjectAudiences: readonly string[];
  /** Targets the actor may ask for. */
  readonly audiences: readonly string[];
  /** The most the actor may receive; always also ⊆ the subject token's scopes. */
  readonly scopes: readonly string[];
  /** Issue a token for the subject without `act` (RFC 8693 §1.1 impersonation). */
  readonly allowImpersonation: boolean;
  readonly description: string;
  /** Tools' key-value pairs (AIP-128); never read by the token path. */
  readonly annotations: Annotations;
  readonly revision: number;
  readonly createTime: Date;
  readonly updateTime: Date;
}

/** What the token path reads, in memory and kept current across replicas like the clients. */
export interface FederationDirectory {
  trustedIssuer(issuer: string): TrustedIssuer | undefined;
  /**
   * The trusted issuer whose keys are this SPIFFE trust domain's bundle: how a JWT-SVID without
   * `iss` (SPIFFE JWT-SVID §3 makes it optional) finds its keys. A directory without it
   * accepts JWT-SVIDs only with `iss`.
   */
  spiffeTrustDomain?(trustDomain: string): TrustedIssuer | undefined;
  /** The policies naming this issuer, in a stable order. */
  federationPoliciesOf(issuer: string): readonly FederationPolicy[];
  /** The delegation policies whose actor is this client. */
  delegationPoliciesOf(clientId: string): readonly DelegationPolicy[];
}
