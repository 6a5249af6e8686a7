/**
 * The transport-free shape of a token request (RFC 6749 §3.2). The HTTP gateway builds one from
 * a form or JSON body, the Connect TokenService from an IssueTokenRequest; the pipeline
 * (token-endpoint.ts) answers it with a TokenResponse or a TesseraError.
 */
import type { RequestOrigin } from "../abuse-limits.js";
import type { ClientCertificate, PresentedClientCredentials } from "../client-authentication/presented-credentials.js";

/**
 * Request parameters by name, each with its values in the order received. Only the repeatable
 * ones (RFC 8707 §2 `resource`, and `audience`) ever hold more than one value: transports refuse
 * any other repeated parameter (RFC 6749 §3.2).
 */
export type TokenParameters = ReadonlyMap<string, readonly string[]>;

/** The TLS client certificate a caller presented; defined with the other presented credentials. */
export type { ClientCertificate };

/**
 * What a transport saw of the request beyond its parameters, for the proofs of possession that
 * bind a token to a key (RFC 9449 DPoP, RFC 8705 mutual TLS). Transports fill what they can.
 */
export interface ProofMaterial {
  /** The HTTP method (RFC 9449 §4.3 `htm`); "POST" for RPCs. */
  readonly method: string;
  /** The endpoint's public URL, built from the issuer, without query (RFC 9449 §4.3 `htu`). */
  readonly url: string;
  /** The `DPoP` request header, when one was sent (RFC 9449 §4.1). */
  readonly dpop?: string | undefined;
  /** The TLS client certificate, when the caller presented one (see ClientCertificate.chainVerified). */
  readonly clientCertificate?: ClientCertificate | undefined;
}

export interface TokenRequest {
  /** Where the request came from, for rate limits and the lockout. */
  readonly origin?: RequestOrigin | undefined;
  /** RFC 6749 `grant_type`; undefined when missing. */
  readonly grantType: string | undefined;
  /** undefined when the request carried no client authentication at all. */
  readonly credentials: PresentedClientCredentials | undefined;
  /**
   * Every parameter of the request as received, so that a grant reads its own (`refresh_token`,
   * `subject_token`, `assertion`, …) without this shape changing. Over HTTP that includes the
   * ones already read into the fields here (`grant_type`, client credentials): never log it.
   * Read scopes and audiences from `scopes` and `audiences`, which every transport fills.
   */
  readonly parameters: TokenParameters;
  /** Requested scopes; undefined when the request named none (RFC 6749 §3.3). */
  readonly scopes: readonly string[] | undefined;
  /** Requested audiences (RFC 8707 `resource`, or `audience`); empty when none. */
  readonly audiences: readonly string[];
  /** What a transport saw for proofs of possession; undefined when it passed nothing. */
  readonly proof?: ProofMaterial | undefined;
}

/** No parameters: shared, so a request without any allocates nothing for them. */
export const NO_PARAMETERS: TokenParameters = new Map();

/** The single value of a parameter; undefined when absent. Empty values count as absent (RFC 6749 §3.1). */
export function parameterValue(parameters: TokenParameters, name: string): string | undefined {
  const value = parameters.get(name)?.[0];
  return value === undefined || value === "" ? undefined : value;
}

/** RFC 6749 §3.3: scope is a space-delimited list; an empty value names no scope. */
export function parseScopeParameter(scope: string | undefined): string[] | undefined {
  if (scope === undefined) return undefined;
  const scopes = scope.split(" ").filter((value) => value.length > 0);
  return scopes.length > 0 ? scopes : undefined;
}
