/**
 * Protecting a Connect / gRPC / gRPC-Web service: an interceptor that reads the `authorization`
 * header, verifies the Bearer token and hands the claims to handlers through a typed context value:
 *
 *     const token = context.values.get(accessTokenKey);
 *
 * Refusals are ConnectErrors — UNAUTHENTICATED for a missing, malformed or invalid token,
 * PERMISSION_DENIED for missing scopes, UNAVAILABLE when the token could not be checked — and
 * carry the RFC 6750 challenge as `www-authenticate` metadata, which Connect over HTTP sends as a
 * header with its 401 / 403.
 */
import { Code, ConnectError, createContextKey, type Interceptor } from "@connectrpc/connect";
import { bearerChallenge, bearerTokenFrom } from "./bearer-challenge.js";
import type { DelegationRequirement, VerifiedAccessToken, Verifier } from "./verifier.js";
import { VerifierError, type VerifierErrorCode } from "./verifier-error.js";

/** The verified token of the current call; undefined on methods marked public. */
export const accessTokenKey = createContextKey<VerifiedAccessToken | undefined>(undefined, { description: "Tessera access token" });

export interface MethodRequirement {
  /** Scopes the token must all carry; replaces the interceptor's default scopes. */
  readonly scopes?: readonly string[];
  readonly checkRevocation?: boolean;
  /** Whether delegated tokens (RFC 8693 `act`) are taken; replaces the interceptor's default. */
  readonly delegation?: DelegationRequirement;
  /** No token needed (health checks, reflection). */
  readonly public?: boolean;
}

export interface TokenInterceptorOptions {
  /** Scopes every call needs, unless its method says otherwise. */
  readonly scopes?: readonly string[];
  /** Also ask Tessera on every call (needs createVerifier({ remote })). */
  readonly checkRevocation?: boolean;
  /** Take delegated tokens too (`allow`, the default), only them (`require`), or never (`refuse`): PERMISSION_DENIED otherwise. */
  readonly delegation?: DelegationRequirement;
  /** Per method, keyed by `<package.Service>/<Method>`, e.g. `acme.v1.PaymentService/Refund`. */
  readonly methods?: Readonly<Record<string, MethodRequirement>>;
  /** The `realm` of the challenge. Default: the verifier's first audience. */
  readonly realm?: string;
}

/** Connect code per refusal; a table of its own, not derived from the HTTP one. */
const CONNECT_CODE: Readonly<Record<VerifierErrorCode, Code>> = {
  invalid_request: Code.Unauthenticated,
  invalid_token: Code.Unauthenticated,
  insufficient_scope: Code.PermissionDenied,
  temporarily_unavailable: Code.Unavailable,
  // Not reached: the interceptor takes Bearer tokens only, and refuses DPoP-bound ones as invalid_token.
  invalid_dpop_proof: Code.Unauthenticated,
  use_dpop_nonce: Code.Unauthenticated,
};

export function tokenInterceptor(verifier: Verifier, options: TokenInterceptorOptions = {}): Interceptor {
  const needsRemote = options.checkRevocation || Object.values(options.methods ?? {}).some((method) => method.checkRevocation);
  if (needsRemote && !verifier.canCheckRevocation) {
    throw new TypeError("tokenInterceptor with checkRevocation needs createVerifier({ remote: { clientId, clientSecret } })");
  }
  const realm = options.realm ?? verifier.audiences[0];

  return (next) => async (request) => {
    const requirement = options.methods?.[`${request.service.typeName}/${request.method.name}`] ?? {};
    if (requirement.public) return next(request);
    try {
      const token = bearerTokenFrom(request.header.get("authorization"));
      if (token === undefined) {
        throw new ConnectError("a Bearer token is required", Code.Unauthenticated, { "www-authenticate": bearerChallenge({ realm }) });
      }
      const verified = await verifier.verify(token, {
        requiredScopes: requirement.scopes ?? options.scopes ?? [],
        checkRevocation: requirement.checkRevocation ?? options.checkRevocation ?? false,
        delegation: requirement.delegation ?? options.delegation ?? "allow",
      });
      request.contextValues.set(accessTokenKey, verified);
    } catch (error) {
      if (error instanceof VerifierError) {
        const metadata = error.code === "temporarily_unavailable" ? undefined : { "www-authenticate": bearerChallenge({ realm, error }) };
        throw new ConnectError(error.message, CONNECT_CODE[error.code], metadata, undefined, error);
      }
      throw error;
    }
    return next(request);
  };
}
