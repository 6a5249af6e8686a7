/**
 * What every client-authentication method receives and returns. Its own module so the methods
 * depend on it alone and the authenticator, which registers them, depends on the methods.
 */
import type { KeyObject } from "node:crypto";
import type { Client, ClientRecord } from "../../clients/client.js";
import type { ClientRegistry } from "../../clients/client-registry.js";
import type { AbuseLimits } from "../abuse-limits.js";
import type { PresentedClientCredentials } from "./presented-credentials.js";
import type { AssertionReplayCache } from "./assertion-replay-cache.js";
import type { AssertionReplayGuard } from "./assertion-replay-guard.js";

/** The keys of clients that publish them at a `jwks_uri`, fetched and cached elsewhere. */
export interface ClientKeysByUrl {
  /**
   * The key that verifies an assertion with this header from this client; throws a
   * TesseraError when there is none (the caller answers invalid_client whatever it says).
   */
  clientKeyFor(client: Client, header: { readonly alg?: string | undefined; readonly kid?: string | undefined }): Promise<KeyObject>;
}

export interface ClientAuthenticationContext {
  readonly registry: ClientRegistry;
  readonly now: () => Date;
  /**
   * Tessera's issuer identifier: the one `aud` a client's own assertion may carry, as a string
   * or an array holding only it (draft-ietf-oauth-rfc7523bis §4, against audience injection).
   */
  readonly assertionAudience: string;
  /**
   * Audiences accepted besides it until a date, for clients moving off the token endpoint URL;
   * none when absent.
   */
  readonly legacyAssertionAudiences?: { readonly audiences: readonly string[]; readonly until: Date } | undefined;
  /** Client authentication by an external issuer's assertion; refused when absent. */
  readonly federation?: FederatedClientAuthentication | undefined;
  readonly replayCache: AssertionReplayCache;
  /**
   * Refuses a replay on every replica (storage-backed); consulted after the per-replica cache.
   * None: replays are refused per replica only.
   */
  readonly replayGuard?: AssertionReplayGuard;
  /** Keys of clients registered by `jwks_uri`; none: such clients cannot authenticate. */
  readonly clientKeysByUrl?: ClientKeysByUrl;
  /** Rate limits and the failed-authentication lockout; none when absent. */
  readonly limits?: AbuseLimits;
}

/** The kinds of federated client assertion (RFC 7523 §2.2; draft-ietf-oauth-spiffe-client-auth §3.1). */
export type FederatedAssertionKind = "jwt_bearer" | "spiffe";

/** Authentication of a client by a token a trusted issuer signed, through the client's federation policies. */
export interface FederatedClientAuthentication {
  /** Whether `iss` is a trusted issuer's: a jwt-bearer client assertion it signed is federated. */
  isTrustedIssuer(iss: string): boolean;
  /**
   * The client the assertion stands for: the named one, which must have a matching policy, or
   * the only client with one. Throws a TesseraError (any code) when there is none.
   */
  authenticate(assertion: string, kind: FederatedAssertionKind, clientId: string | undefined): Promise<ClientRecord>;
}

/**
 * Checks one method's credentials: the client, or a throw (a rejection, for a handler that has
 * to wait). A method that needs nothing but memory, as a secret does, answers at once.
 */
export type ClientAuthenticationHandler = (
  credentials: PresentedClientCredentials,
  context: ClientAuthenticationContext,
) => ClientRecord | Promise<ClientRecord>;
