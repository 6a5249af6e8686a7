/**
 * Checking and revoking tokens for resource servers: RFC 7662 introspection, the one-call
 * AuthenticateToken check, and RFC 7009 revocation. Callers authenticate first (RFC 7662 §2.1)
 * with client credentials or a Bearer token; what they may see depends on who they are.
 */
import { RESERVED_CLAIMS } from "../clients/claims-template.js";
import { INTROSPECT_SCOPE } from "../clients/client-admin.js";
import type { JsonObject, JsonValue } from "../clients/client.js";
import { TesseraError } from "../errors.js";
import type { ActiveAccessToken, AccessTokenVerifier } from "./access-token-verifier.js";
import type { ClientAuthenticator } from "./client-authentication/client-authenticator.js";
import { UNKNOWN_ORIGIN, type AbuseLimits, type RequestOrigin } from "./abuse-limits.js";
import { REFRESH_TOKEN_PREFIX, type RefreshTokens } from "./refresh-tokens.js";
import type { RevocationList } from "./revocation-list.js";
import type { PresentedClientCredentials } from "./token-request.js";

export interface CallerCredentials {
  readonly bearerToken?: string | undefined;
  readonly client?: PresentedClientCredentials | undefined;
}

/** An authenticated caller of introspection or revocation. */
export interface Caller {
  readonly clientId: string;
  /** Holds tessera:introspect: may introspect and revoke any token. */
  readonly mayIntrospectAny: boolean;
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
    },
  ) {}

  /**
   * A Bearer token must be an active token for Tessera itself carrying tessera:introspect;
   * client credentials authenticate like at the token endpoint.
   */
  async authenticateCaller(credentials: CallerCredentials | undefined, origin: RequestOrigin = UNKNOWN_ORIGIN): Promise<Caller> {
    this.options.availability?.assertFresh();
    if (credentials?.bearerToken !== undefined) {
      this.options.limits?.beforeAuthentication(origin, undefined);
      const token = await this.options.verifier.verify(credentials.bearerToken);
      if (!token || !token.audiences.includes(this.options.issuer)) {
        throw new TesseraError("invalid_token", "the bearer token is not active");
      }
      if (!token.scopes.includes(INTROSPECT_SCOPE)) {
        throw new TesseraError("insufficient_scope", `the bearer token lacks ${INTROSPECT_SCOPE}`);
      }
      this.options.limits?.afterBearerAuthentication(origin);
      return { clientId: token.clientId, mayIntrospectAny: true };
    }
    const record = await this.options.authenticator.authenticate(credentials?.client, origin);
    return { clientId: record.client.id, mayIntrospectAny: record.client.allowedScopes.includes(INTROSPECT_SCOPE) };
  }

  /**
   * RFC 7662 §2.2: the token's facts if it is active and the caller may see it; undefined
   * (`active: false`) otherwise, with no reason given (§4: not even to say the caller may not).
   */
  async introspect(caller: Caller, token: string): Promise<ActiveAccessToken | undefined> {
    const active = await this.options.verifier.verify(token);
    return active && mayInspect(caller, active) ? active : undefined;
  }

  /** Active, visible to the caller, carrying every required scope and the required audience. */
  async authenticate(
    caller: Caller,
    token: string,
    requirements: { requiredScopes: readonly string[]; requiredAudience: string | undefined },
  ): Promise<AuthenticatedToken> {
    const active = await this.introspect(caller, token);
    if (!active) throw new TesseraError("invalid_token", "the token is not active");
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
   * client is refused unless the caller holds tessera:introspect.
   */
  async revoke(caller: Caller, token: string, now: Date): Promise<void> {
    if (token.startsWith(REFRESH_TOKEN_PREFIX)) {
      await this.options.refreshTokens.revoke(token, (clientId) => clientId === caller.clientId || caller.mayIntrospectAny);
      return;
    }
    const facts = await this.options.verifier.verifySignedClaims(token);
    if (!facts || facts.expiresAt * 1000 <= now.getTime()) return;
    if (facts.clientId !== caller.clientId && !caller.mayIntrospectAny) {
      throw new TesseraError("unauthorized_client", "the token was not issued to this client");
    }
    await this.options.revocations.revoke({ jti: facts.jti, clientId: facts.clientId, expireTime: new Date(facts.expiresAt * 1000) });
  }
}

/** A resource server sees tokens issued for it (aud = its client id) and its own tokens. */
function mayInspect(caller: Caller, token: ActiveAccessToken): boolean {
  return caller.mayIntrospectAny || token.clientId === caller.clientId || token.audiences.includes(caller.clientId);
}
