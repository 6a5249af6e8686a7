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
  /** Accepted `aud` values of client assertions: the issuer and the token endpoint URL. */
  readonly assertionAudiences: readonly string[];
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

export type ClientAuthenticationHandler = (
  credentials: PresentedClientCredentials,
  context: ClientAuthenticationContext,
) => Promise<ClientRecord>;
