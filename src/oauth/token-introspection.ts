/**
 * Checking and revoking tokens for resource servers: RFC 7662 introspection, the one-call
 * AuthenticateToken check, and RFC 7009 revocation. Callers authenticate first (RFC 7662 §2.1)
 * with client credentials or a Bearer token; what they may see and revoke depends on who they
 * are. Access tokens are checked from memory only; a refresh token, stored hashed, costs one
 * database read, and only its owner ever learns anything about it.
 */
import { RESERVED_CLAIMS } from "../clients/claims-template.js";
import { INTROSPECT_SCOPE, REVOKE_SCOPE } from "../clients/tessera-scopes.js";
import type { ClientRecord, JsonObject, JsonValue } from "../clients/client.js";
import { TesseraError } from "../errors.js";
import { checkCertificateBinding } from "./mtls/certificate-binding-check.js";
import type { ActiveAccessToken, AccessTokenVerifier } from "./access-token-verifier.js";
import type { ClientAuthenticator } from "./client-authentication/client-authenticator.js";
import { identifyOwnApiCaller } from "./own-api-caller.js";
import { dpopKeyOf } from "./confirmation.js";
import type { DpopProofChecker } from "./dpop/dpop-proof-checker.js";
import { UNKNOWN_ORIGIN, type AbuseLimits, type RequestOrigin } from "./abuse-limits.js";
import { REFRESH_TOKEN_PREFIX, type ActiveRefreshToken, type RefreshTokens } from "./refresh-tokens.js";
import type { RevocationList } from "./revocation-list.js";
import type { PresentedClientCredentials } from "./client-authentication/presented-credentials.js";

export interface CallerCredentials {
  readonly bearerToken?: string | undefined;
  readonly client?: PresentedClientCredentials | undefined;
}

/** An authenticated caller of introspection or revocation. */
export interface Caller {
  readonly clientId: string;
  /** The caller's client as it is now. */
  readonly record: ClientRecord;
  /** Holds tessera:introspect: may introspect any access token. */
  readonly mayIntrospectAny: boolean;
  /** Holds tessera:revoke: may revoke any token; every client may revoke its own. */
  readonly mayRevokeAny: boolean;
}

/** What introspection found: an access token, or a refresh token shown to its owner. */
export type IntrospectedToken =
  | { readonly tokenType: "access_token"; readonly token: ActiveAccessToken }
  | { readonly tokenType: "refresh_token"; readonly token: ActiveRefreshToken };

/** Scopes that let a Bearer token call introspection and revocation at all. */
const TOKEN_API_SCOPES = [INTROSPECT_SCOPE, REVOKE_SCOPE];

/**
 * The resource request a token came with, for a sender-constrained token (RFC 9449 §7): the
 * `DPoP` header, the method and the URL the client called.
 */
export interface ResourceRequestProof {
  readonly dpop: string;
  readonly method: string;
  readonly url: string;
}

export interface AuthenticatedToken {
  readonly token: ActiveAccessToken;
  readonly customClaims: Record<string, JsonValue>;
  readonly trustedMetadata: JsonObject;
}

export class TokenIntrospection {
  constructor(
    private readonly options: {
      issuer: string;
      verifier: AccessTokenVerifier;
      authenticator: ClientAuthenticator;
      revocations: RevocationList;
      refreshTokens: RefreshTokens;
      /** Refuses service when in-memory state can no longer be trusted (database gone too long). */
      availability?: { assertFresh(): void };
      limits?: AbuseLimits;
      /** Checks resource requests' DPoP proofs; without it, a proof given is refused. */
      dpop?: DpopProofChecker;
    },
  ) {}

  /**
   * A Bearer token must be an active token for Tessera itself carrying tessera:introspect or
   * tessera:revoke; client credentials authenticate like at the token endpoint. Either way the
   * caller's rights are its client's current ones (the verifier caps a token's scopes by them).
   */
  async authenticateCaller(credentials: CallerCredentials | undefined, origin: RequestOrigin = UNKNOWN_ORIGIN): Promise<Caller> {
    this.options.availability?.assertFresh();
    if (credentials?.bearerToken !== undefined) {
      this.options.limits?.beforeAuthentication(origin, undefined);
      const caller = await identifyOwnApiCaller({
        token: credentials.bearerToken,
        permittedScopes: TOKEN_API_SCOPES,
        verifier: this.options.verifier,
        issuer: this.options.issuer,
      });
      if (!caller.allowed) {
        // A token for another audience is, for this API, simply not an active token.
        if (caller.refusal !== "insufficient_scope") throw new TesseraError("invalid_token", "the bearer token is not active");
        throw new TesseraError("insufficient_scope", `the bearer token lacks ${TOKEN_API_SCOPES.join(" or ")}`);
      }
      this.options.limits?.afterBearerAuthentication(origin);
      return callerWith(caller.token.client, caller.token.scopes);
    }
    const record = await this.options.authenticator.authenticate(credentials?.client, origin);
    return callerWith(record, record.client.allowedScopes);
  }

  /**
   * RFC 7662 §2.2: the token's facts if it is active and the caller may see it; undefined
   * (`active: false`) otherwise, with no reason given (§4: not even to say the caller may not).
   * A refresh token is shown to its owner only: §2.1 lets the server decide who may look, and
   * nobody else needs it.
   */
  async introspect(caller: Caller, token: string, proof?: ResourceRequestProof): Promise<IntrospectedToken | undefined> {
    if (token.startsWith(REFRESH_TOKEN_PREFIX)) {
      const refreshToken = await this.options.refreshTokens.describe(caller.record, token);
      return refreshToken && { tokenType: "refresh_token", token: refreshToken };
    }
    const accessToken = await this.introspectAccessToken(caller, token);
    if (!accessToken) return undefined;
    // The Tessera extension of RFC 7662: with the resource request's proof, a token whose
    // binding does not hold is simply not active (§2.2 gives no reasons).
    if (proof && !(await this.checkBinding(accessToken, token, proof).then(() => true, () => false))) return undefined;
    return { tokenType: "access_token", token: accessToken };
  }

  /**
   * RFC 9449 §7.1 at a resource, on the resource server's behalf: the proof matches the request
   * and the token (`ath`), is signed by the token's key (`cnf.jkt`) and is new. Throws
   * invalid_dpop_proof / use_dpop_nonce, or invalid_token for a proof given with an unbound token.
   */
  private async checkBinding(active: ActiveAccessToken, token: string, proof: ResourceRequestProof): Promise<void> {
    const jkt = dpopKeyOf(active);
    if (jkt === undefined) throw new TesseraError("invalid_token", "the token is not DPoP-bound; send it as a Bearer token without a proof");
    if (!this.options.dpop) throw new TesseraError("invalid_dpop_proof", "DPoP proofs are not checked by this server");
    await this.options.dpop.check(proof.dpop, { method: proof.method, url: proof.url, accessToken: token, jkt });
  }

  private async introspectAccessToken(caller: Caller, token: string): Promise<ActiveAccessToken | undefined> {
    const active = await this.options.verifier.verify(token);
    return active && mayInspect(caller, active) ? active : undefined;
  }

  /** Active, visible to the caller, carrying every required scope and the required audience. */
  async authenticate(
    caller: Caller,
    token: string,
    requirements: {
      requiredScopes: readonly string[];
      requiredAudience: string | undefined;
      proof?: ResourceRequestProof | undefined;
      /** The resource request's client certificate thumbprint (RFC 8705 §3.1), checked against `cnf`. */
      clientCertificateThumbprint?: string | undefined;
    },
  ): Promise<AuthenticatedToken> {
    const active = await this.introspectAccessToken(caller, token);
    if (!active) throw new TesseraError("invalid_token", "the token is not active");
    checkCertificateBinding(active.claims, requirements.clientCertificateThumbprint);
    if (requirements.proof) await this.checkBinding(active, token, requirements.proof);
    else if (dpopKeyOf(active) !== undefined) {
      // RFC 9449 §7.1: a DPoP-bound token presented without its proof is a bearer token it is not.
      throw new TesseraError("invalid_token", "the token is DPoP-bound: pass the request's DPoP proof, method and URL");
    }
    const missing = requirements.requiredScopes.filter((scope) => !active.scopes.includes(scope));
    if (missing.length > 0) throw new TesseraError("insufficient_scope", `missing scopes: ${missing.join(" ")}`);
    if (requirements.requiredAudience && !active.audiences.includes(requirements.requiredAudience)) {
      throw new TesseraError("insufficient_scope", `the token is not for audience ${requirements.requiredAudience}`);
    }
    const customClaims = Object.fromEntries(
      Object.entries(active.claims).filter(([name]) => !RESERVED_CLAIMS.has(name)),
    ) as Record<string, JsonValue>;
    return { token: active, customClaims, trustedMetadata: active.client.client.trustedMetadata };
  }

  /**
   * RFC 7009 §2.1: unknown, foreign or expired tokens "succeed" silently; a token of another
   * client is refused, and stays valid, unless the caller holds tessera:revoke (seeing tokens,
   * tessera:introspect, is not the right to end them). Revoking a refresh token also revokes the
   * access tokens issued from its chain.
   */
  async revoke(caller: Caller, token: string, now: Date): Promise<void> {
    const mayRevoke = (clientId: string) => clientId === caller.clientId || caller.mayRevokeAny;
    if (token.startsWith(REFRESH_TOKEN_PREFIX)) {
      await this.options.refreshTokens.revoke(token, mayRevoke);
      return;
    }
    const facts = await this.options.verifier.verifySignedClaims(token);
    if (!facts || facts.expiresAt * 1000 <= now.getTime()) return;
    if (!mayRevoke(facts.clientId)) {
      throw new TesseraError("unauthorized_client", "the token was not issued to this client");
    }
    await this.options.revocations.revoke({ jti: facts.jti, clientId: facts.clientId, expireTime: new Date(facts.expiresAt * 1000) });
  }
}

/** A resource server sees tokens issued for it (aud = its client id) and its own tokens. */
function mayInspect(caller: Caller, token: ActiveAccessToken): boolean {
  return caller.mayIntrospectAny || token.clientId === caller.clientId || token.audiences.includes(caller.clientId);
}

function callerWith(record: ClientRecord, scopes: readonly string[]): Caller {
  return {
    clientId: record.client.id,
    record,
    mayIntrospectAny: scopes.includes(INTROSPECT_SCOPE),
    mayRevokeAny: scopes.includes(REVOKE_SCOPE),
  };
}
