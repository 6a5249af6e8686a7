/**
 * The client credentials a caller presents (RFC 6749 §2.3), before they are checked: what the
 * transports take out of a request and client authentication checks. The rest of a token
 * request is in ../token/token-request.ts.
 */


/**
 * `private_key_jwt` covers every jwt-bearer client assertion: the client's own (RFC 7523 §2.2)
 * or a trusted issuer's (federated); `spiffe_jwt` a JWT-SVID (draft-ietf-oauth-spiffe-client-auth §4).
 * A `client_id` with no secret or assertion over a connection with a client certificate is
 * presented as `tls_client_auth`: the transport cannot tell the two certificate methods of
 * RFC 8705 §2 apart, so the authenticator takes the one the client registered.
 */
export type ClientAuthenticationMethod =
  | "client_secret_basic"
  | "client_secret_post"
  | "private_key_jwt"
  | "spiffe_jwt"
  | "tls_client_auth"
  | "self_signed_tls_client_auth";

/**
 * The caller's TLS client certificate (RFC 8705 §2), as the TLS handshake — Tessera's or a
 * trusted proxy's — proved the caller holds its private key.
 */
export interface ClientCertificate {
  /** The certificate in DER: what RFC 8705 §3.1's `x5t#S256` thumbprint hashes. */
  readonly der: Uint8Array;
  /**
   * Whether it chains to TESSERA_TLS_CLIENT_CA. Only such a certificate satisfies
   * tls_client_auth (RFC 8705 §2.1); any may satisfy self_signed_tls_client_auth (§2.2).
   */
  readonly chainVerified: boolean;
}

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
  /** tls_client_auth and self_signed_tls_client_auth: the certificate of the connection (or trusted proxy). */
  readonly clientCertificate?: ClientCertificate | undefined;
}

/**
 * The credentials of a request that sent a `client_id` and nothing else, when a client
 * certificate came with it (RFC 8705 §2); undefined without a certificate.
 */
export function certificateCredentials(clientId: string | undefined, certificate: ClientCertificate | undefined): PresentedClientCredentials | undefined {
  return clientId !== undefined && certificate !== undefined ? { method: "tls_client_auth", clientId, clientCertificate: certificate } : undefined;
}

/**
 * The method a client assertion asks for, by its `client_assertion_type`: a JWT-SVID's own type
 * (draft-ietf-oauth-spiffe-client-auth §3.1), else a jwt-bearer assertion (RFC 7523 §2.2),
 * whose handler refuses any other type.
 */
export function assertionMethod(assertionType: string | undefined): ClientAuthenticationMethod {
  return assertionType === "urn:ietf:params:oauth:client-assertion-type:jwt-spiffe" ? "spiffe_jwt" : "private_key_jwt";
}
