/**
 * The revocation-sensitive check: after a token verified locally, ask Tessera's
 * `IntrospectionService.AuthenticateToken` whether it is still active. Only Tessera knows about
 * revocations (RFC 7009) and deactivated clients, so a route that must not accept a revoked token
 * for the rest of its lifetime pays one RPC per request for it.
 *
 * The resource server authenticates with its own client credentials (RFC 6749 §2.3.1 Basic), and
 * Tessera lets a client check tokens issued for it (the token's `aud` names its client id) or any
 * token when it holds `tessera:introspect`. Basic, not a Bearer token of its own, so that an
 * `invalid_token` answer can only be about the presented token; the credentials are encoded by
 * tessera/client, the one implementation of client authentication on the caller's side.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { IntrospectionService } from "../gen/tessera/v1/introspection_service_pb.js";
import { OAuthErrorSchema } from "../gen/tessera/v1/oauth_error_pb.js";
import { basicAuthorization } from "../client/client-authentication.js";
import { VerifierError } from "./verifier-error.js";

export interface RemoteAuthenticationOptions {
  /** Tessera's gRPC address (h2c or TLS); defaults to the issuer. */
  readonly baseUrl?: string;
  /** The resource server's own client credentials. */
  readonly clientId: string;
  readonly clientSecret: string;
  /** Per call. Default 5000. */
  readonly timeoutMs?: number;
  /** Replaces the gRPC transport (e.g. Connect over HTTP/1.1 behind a proxy). */
  readonly transport?: Transport;
}

/** What Tessera adds to a locally verified token. */
export interface RemoteAuthenticationResult {
  /** The client's trusted metadata as it is now (not as it was at issuance). */
  readonly trustedMetadata: JsonObject;
}

export interface RemoteAuthentication {
  authenticate(
    token: string,
    requirements: {
      requiredScopes: readonly string[];
      requiredAudience: string;
      /** For a DPoP-bound token: the resource request's proof, method and URL, checked by Tessera too. */
      dpop?: { readonly proof: string; readonly method: string; readonly url: string } | undefined;
      clientCertificateThumbprint?: string | undefined;
    },
  ): Promise<RemoteAuthenticationResult>;
  close(): void;
}

/** Tessera's answer, as a VerifierError: only invalid_token and insufficient_scope are the token's fault. */
function toVerifierError(error: unknown, requiredScopes: readonly string[]): VerifierError {
  const connectError = ConnectError.from(error);
  const oauthCode = connectError.findDetails(OAuthErrorSchema)[0]?.error;
  if (oauthCode === "invalid_dpop_proof") {
    return new VerifierError("invalid_dpop_proof", "Tessera refuses the DPoP proof", { cause: error });
  }
  if (oauthCode === "invalid_token") {
    return new VerifierError("invalid_token", "Tessera reports the token is no longer active", { cause: error });
  }
  if (oauthCode === "insufficient_scope") {
    return new VerifierError("insufficient_scope", "Tessera refuses the token for this route", { cause: error, requiredScopes });
  }
  // invalid_client (our own credentials), UNAVAILABLE, a timeout: nothing the caller did.
  const reason = connectError.code === Code.Unauthenticated ? "Tessera refused this resource server's credentials" : "could not reach Tessera";
  return new VerifierError("temporarily_unavailable", `${reason} to check the token`, { cause: error });
}

export function createRemoteAuthentication(options: RemoteAuthenticationOptions & { readonly baseUrl: string }): RemoteAuthentication {
  // One HTTP/2 connection, reused by every check and closed with the verifier.
  const sessionManager = options.transport ? undefined : new Http2SessionManager(options.baseUrl);
  const transport = options.transport ?? createGrpcTransport({ baseUrl: options.baseUrl, sessionManager });
  const client: Client<typeof IntrospectionService> = createClient(IntrospectionService, transport);
  const authorization = basicAuthorization(options.clientId, options.clientSecret);
  const timeoutMs = options.timeoutMs ?? 5000;

  return {
    async authenticate(token, { requiredScopes, requiredAudience, dpop, clientCertificateThumbprint }) {
      try {
        const response = await client.authenticateToken(
          {
            token,
            requiredScopes: [...requiredScopes],
            requiredAudience,
            clientCertificateThumbprint: clientCertificateThumbprint ?? "",
            ...(dpop ? { dpopProof: dpop.proof, httpMethod: dpop.method, httpUrl: dpop.url } : {}),
          },
          { headers: { authorization }, timeoutMs },
        );
        return { trustedMetadata: response.trustedMetadata ?? {} };
      } catch (error) {
        throw toVerifierError(error, requiredScopes);
      }
    },
    close() {
      sessionManager?.abort();
    },
  };
}
