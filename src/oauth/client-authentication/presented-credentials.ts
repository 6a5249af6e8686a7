/**
 * The client credentials a caller presents (RFC 6749 §2.3), before they are checked: what the
 * transports take out of a request and client authentication checks. The rest of a token
 * request is in ../token/token-request.ts.
 */

export type ClientAuthenticationMethod = "client_secret_basic" | "client_secret_post" | "private_key_jwt";

/** The credentials as presented, before they are checked. */
export interface PresentedClientCredentials {
  readonly method: ClientAuthenticationMethod;
  readonly clientId: string | undefined;
  readonly clientSecret?: string | undefined;
  /**
   * client_secret_basic only: the secret as sent, when form-decoding it (RFC 6749 §2.3.1)
   * changed it; checked when `clientSecret` does not match, for clients that send it raw.
   */
  readonly rawClientSecret?: string | undefined;
  readonly clientAssertion?: string | undefined;
  readonly clientAssertionType?: string | undefined;
}
