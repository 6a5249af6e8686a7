/**
 * What every client-authentication method receives and returns. Its own module so the methods
 * depend on it alone and the authenticator, which registers them, depends on the methods.
 */
import type { ClientRecord } from "../../clients/client.js";
import type { ClientRegistry } from "../../clients/client-registry.js";
import type { AbuseLimits } from "../abuse-limits.js";
import type { PresentedClientCredentials } from "./presented-credentials.js";
import type { AssertionReplayCache } from "./assertion-replay-cache.js";

export interface ClientAuthenticationContext {
  readonly registry: ClientRegistry;
  readonly now: () => Date;
  /** Accepted `aud` values of client assertions: the issuer and the token endpoint URL. */
  readonly assertionAudiences: readonly string[];
  readonly replayCache: AssertionReplayCache;
  /** Rate limits and the failed-authentication lockout; none when absent. */
  readonly limits?: AbuseLimits;
}

export type ClientAuthenticationHandler = (
  credentials: PresentedClientCredentials,
  context: ClientAuthenticationContext,
) => Promise<ClientRecord>;
