/**
 * Token exchange of Tessera's own access tokens (RFC 8693 §1.1 delegation): service A received
 * a token that client C was issued for A, and exchanges it for a token toward B that says "C,
 * with A acting". A subject-token handler of the token-exchange grant, for
 * `subject_token_type=urn:ietf:params:oauth:token-type:access_token`.
 *
 * The rules, each refusal leaving nothing issued:
 * - A authenticates as a client (`invalid_client` otherwise) and has a delegation policy
 *   (`unauthorized_client` otherwise);
 * - the subject token is active by the server's own verifier — signature, expiry, revocation,
 *   its client's status and every token it was itself derived from (`invalid_grant`);
 * - it names A in its audience, or an audience one of A's policies accepts (`invalid_grant`);
 *   a `may_act` in it (§4.4) must name A (`invalid_grant`);
 * - an `actor_token`, if sent, is A's own active token, for A itself (`invalid_grant`);
 * - the target (`audience`/`resource`) is required and within one policy's audiences
 *   (`invalid_target`); the scopes are within the subject token's and that policy's
 *   (`invalid_scope`), by default all they have in common: an exchange only ever narrows;
 * - the chain stays within the configured number of exchanges (`invalid_grant`).
 *
 * The issued token: `sub` the subject token's, `client_id` A, `act` = `{sub: A}` nesting the
 * subject token's `act` (§4.1), `aud` the target, a lifetime ending no later than the subject
 * token's, and the chain of tokens it derives from (delegation-chain.ts), so revoking any of
 * them ends it. Impersonation — no `act` — needs both a policy allowing it and the request's
 * `impersonate=true`; it is never the default.
 */
import { TesseraError } from "../../errors.js";
import type { DelegationPolicy, FederationDirectory } from "../../federation/federation.js";
import type { JwtClaims } from "../../keys/jwt.js";
import type { ActiveAccessToken, AccessTokenVerifier } from "../access-token-verifier.js";
import { actClaim, actorDepth, chainClaim, CHAIN_CLAIM, ACT_CLAIM, type Actor, type TokenAncestor } from "../delegation-chain.js";
import type { GrantContext } from "../token/grant.js";
import { parameterValue } from "../token/token-request.js";
import { tokenResponse, type TokenResponse } from "../token/token-response.js";
import { TOKEN_EXCHANGE_GRANT_TYPE, TOKEN_TYPE, type SubjectTokenHandler, type TokenExchangeParameters } from "./token-exchange-grant.js";

/**
 * The request parameter asking for impersonation, `true` or absent (`false` also reads as
 * absent). RFC 8693 leaves the choice between delegation and impersonation to the server
 * (§1.1); asking explicitly means no caller ever gets a token without `act` by accident.
 */
export const IMPERSONATE_PARAMETER = "impersonate";

export interface DelegatedSubjectTokenOptions {
  /** The server's own verifier: exactly what introspection would call active. */
  readonly verifier: Pick<AccessTokenVerifier, "verify">;
  readonly directory: Pick<FederationDirectory, "delegationPoliciesOf">;
  /** The most exchanges a chain may hold (C → A is one, then A → B two, …). */
  readonly maxDelegationDepth: number;
  readonly now: () => Date;
}

export function delegatedSubjectTokenHandler(options: DelegatedSubjectTokenOptions) {
  if (!Number.isSafeInteger(options.maxDelegationDepth) || options.maxDelegationDepth < 1) {
    throw new RangeError("maxDelegationDepth must be a whole number of at least 1");
  }
  return {
    subjectTokenTypes: [TOKEN_TYPE.accessToken],
    async handle(context, exchange) {
      const record = context.client;
      if (!record) throw new TesseraError("invalid_client", "exchanging an access token needs client authentication");
      const actorId = record.client.id;
      const impersonate = impersonationRequested(context);

      const policies = options.directory.delegationPoliciesOf(actorId);
      if (policies.length === 0) throw new TesseraError("unauthorized_client", "no delegation policy lets this client exchange access tokens");

      const subject = await options.verifier.verify(exchange.subjectToken);
      if (!subject) throw new TesseraError("invalid_grant", "subject_token is not an active access token of this server");
      if (exchange.actorToken !== undefined) await checkActorToken(options.verifier, exchange, actorId);
      checkMayAct(subject, actorId);

      let applicable = policies.filter((policy) => addressedThrough(policy, subject, actorId));
      if (applicable.length === 0) throw new TesseraError("invalid_grant", "the subject token is not addressed to this client");
      if (impersonate) {
        applicable = applicable.filter((policy) => policy.allowImpersonation);
        if (applicable.length === 0) throw new TesseraError("unauthorized_client", "no delegation policy lets this client impersonate");
      }

      const chain: TokenAncestor[] = [
        ...subject.chain,
        { jti: subject.jti, clientId: subject.clientId, issuedAt: subject.issuedAt, expiresAt: subject.expiresAt },
      ];
      // Impersonation leaves the subject token's actors as they were and adds none (§1.1).
      const actor: Actor | undefined = impersonate ? subject.actor : { subject: actorId, actor: subject.actor };
      if (chain.length > options.maxDelegationDepth || actorDepth(actor) > options.maxDelegationDepth) {
        throw new TesseraError("invalid_grant", `the delegation chain would exceed ${options.maxDelegationDepth} exchanges`);
      }

      const { audiences, covering } = targetOf(context.request.audiences, applicable);
      const scopes = scopesOf(context.request.scopes, subject, covering);

      // RFC 8693 §2.2: the new token must not outlive the one it stands for.
      const remainingSeconds = Math.floor(subject.expiresAt - options.now().getTime() / 1000);
      if (remainingSeconds < 1) throw new TesseraError("invalid_grant", "subject_token expires too soon to be exchanged");

      const claims: JwtClaims = { [CHAIN_CLAIM]: chainClaim(chain) };
      if (actor) claims[ACT_CLAIM] = actClaim(actor);
      const issued = await context.issueAccessToken({
        client: record.client,
        subject: subjectOf(subject),
        claims,
        scopes,
        audiences,
        maxLifetimeSeconds: remainingSeconds,
      });
      return tokenResponse({ record, grantType: TOKEN_EXCHANGE_GRANT_TYPE, issued, scopes, audiences, refreshToken: undefined });
    },
  } as const satisfies SubjectTokenHandler;
}

function impersonationRequested(context: GrantContext): boolean {
  const value = parameterValue(context.request.parameters, IMPERSONATE_PARAMETER);
  if (value === undefined || value === "false") return false;
  if (value === "true") return true;
  throw new TesseraError("invalid_request", `${IMPERSONATE_PARAMETER} must be true or false`);
}

function subjectOf(token: ActiveAccessToken): string {
  return typeof token.claims.sub === "string" ? token.claims.sub : token.clientId;
}

/**
 * RFC 8693 §2.1: the actor token stands for the acting party. Here that is A itself, so it must
 * be an active token A holds for itself — not another client's, and not one A holds on someone
 * else's behalf.
 */
async function checkActorToken(
  verifier: Pick<AccessTokenVerifier, "verify">,
  exchange: TokenExchangeParameters,
  actorId: string,
): Promise<void> {
  if (exchange.actorTokenType !== TOKEN_TYPE.accessToken) {
    throw new TesseraError("invalid_request", "actor_token_type: only access tokens of this server are accepted as actor_token");
  }
  const actorToken = await verifier.verify(exchange.actorToken!);
  if (!actorToken) throw new TesseraError("invalid_grant", "actor_token is not an active access token of this server");
  if (actorToken.clientId !== actorId || subjectOf(actorToken) !== actorId || actorToken.chain.length > 0) {
    throw new TesseraError("invalid_grant", "actor_token must be the authenticated client's own token");
  }
}

/** RFC 8693 §4.4: a subject token naming who may act for it may be exchanged by that party only. */
function checkMayAct(subject: ActiveAccessToken, actorId: string): void {
  const mayAct = subject.claims["may_act"];
  if (mayAct === undefined) return;
  const named = typeof mayAct === "object" && mayAct !== null && !Array.isArray(mayAct) ? (mayAct as Record<string, unknown>)["sub"] : undefined;
  if (named !== actorId) throw new TesseraError("invalid_grant", "the subject token's may_act does not name this client");
}

/** A may exchange tokens addressed to it, and those carrying an audience its policy names. */
function addressedThrough(policy: DelegationPolicy, subject: ActiveAccessToken, actorId: string): boolean {
  return subject.audiences.includes(actorId) || policy.subjectAudiences.some((audience) => subject.audiences.includes(audience));
}

/**
 * The requested target (RFC 8693 §2.1 `audience`, RFC 8707 `resource`), which one policy must
 * cover whole. A target is required: a token speaking for someone else is always for a named
 * service, never a default one.
 */
function targetOf(requested: readonly string[], policies: readonly DelegationPolicy[]): { audiences: string[]; covering: DelegationPolicy[] } {
  const audiences = [...new Set(requested)];
  if (audiences.length === 0) throw new TesseraError("invalid_target", "name the target service with audience or resource");
  const covering = policies.filter((policy) => audiences.every((audience) => policy.audiences.includes(audience)));
  if (covering.length === 0) {
    const refused = audiences.filter((audience) => !policies.some((policy) => policy.audiences.includes(audience)));
    const named = refused.length > 0 ? refused : audiences;
    throw new TesseraError("invalid_target", `audience not allowed for delegation by this client: ${named.slice(0, 5).join(" ")}`);
  }
  return { audiences, covering };
}

/**
 * Scopes ⊆ the subject token's ∩ the policy's. Absent scope (RFC 6749 §3.3) means everything the
 * two have in common, under the first policy that leaves any.
 */
function scopesOf(requested: readonly string[] | undefined, subject: ActiveAccessToken, policies: readonly DelegationPolicy[]): string[] {
  if (requested === undefined) {
    for (const policy of policies) {
      const common = subject.scopes.filter((scope) => policy.scopes.includes(scope));
      if (common.length > 0) return common;
    }
    throw new TesseraError("invalid_scope", "the subject token and this client's delegation policy have no scope in common");
  }
  const scopes = [...new Set(requested)];
  const wider = scopes.filter((scope) => !subject.scopes.includes(scope));
  if (wider.length > 0) throw new TesseraError("invalid_scope", `scope wider than the subject token's: ${wider.slice(0, 10).join(" ")}`);
  if (!policies.some((policy) => scopes.every((scope) => policy.scopes.includes(scope)))) {
    const refused = scopes.filter((scope) => !policies.some((policy) => policy.scopes.includes(scope)));
    const named = refused.length > 0 ? refused : scopes;
    throw new TesseraError("invalid_scope", `scope not allowed by this client's delegation policy: ${named.slice(0, 10).join(" ")}`);
  }
  return scopes;
}
