/**
 * Certificate-bound access tokens (RFC 8705 §3): a token issued to a caller that proved
 * possession of a client certificate carries `cnf: {"x5t#S256": …}`, and a resource server
 * accepts it only over a connection with that certificate.
 *
 * Which tokens are bound: every token issued with a certificate that the token endpoint
 * accepted — one that chains to TESSERA_TLS_CLIENT_CA, or the one a
 * self_signed_tls_client_auth client authenticated with. RFC 8705 §3 leaves the choice to the
 * server (its metadata `tls_client_certificate_bound_access_tokens` says it binds); binding
 * whenever a certificate was accepted means a client that presents one always gets the
 * stronger token, and one that wants a bearer token connects without a certificate. A
 * certificate that chains nowhere, sent by a client authenticating otherwise, binds nothing: it
 * was not accepted for anything.
 */
import type { JwtClaims } from "../../keys/jwt.js";
import type { GrantContext } from "../token/grant.js";
import type { TokenExtension } from "../token/token-extension.js";
import { certificateThumbprint } from "./certificate-thumbprint.js";

export function certificateBoundTokens(): TokenExtension {
  return {
    name: "mtls",
    accessTokenClaims(context: GrantContext): JwtClaims | undefined {
      const certificate = context.request.proof?.clientCertificate;
      if (!certificate) return undefined;
      const accepted = certificate.chainVerified || context.client?.client.tokenEndpointAuthMethod === "self_signed_tls_client_auth";
      // `cnf` may also hold other confirmation members (RFC 7800 §3.1); the pipeline merges them.
      return accepted ? { cnf: { "x5t#S256": certificateThumbprint(certificate.der) } } : undefined;
    },
  } satisfies TokenExtension;
}
