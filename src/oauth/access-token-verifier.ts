/**
 * Deciding whether one of our access tokens is active: our issuer, a published key of the
 * token's own algorithm, RFC 9068 `typ`, unexpired, not revoked, and a client that still exists,
 * is active, and has not cut off the tokens issued before its last lifecycle change. Everything
 * is read from memory. Any failure is simply "inactive" (RFC 7662 §2.2 gives no reasons), and
 * the verifier never throws for a bad token.
 */
import type { ClientRecord } from "../clients/client.js";
import type { ClientRegistry } from "../clients/client-registry.js";
import { decodeCompactJws, JwsFormatError, verifyJwsSignature, type JwtClaims } from "../keys/jwt.js";
import type { KeyRing, LoadedSigningKey } from "../keys/key-ring.js";
import type { RevocationList } from "./revocation-list.js";
import { isUsable } from "./client-authentication/client-authenticator.js";
import { accessTokenIssueTime } from "./access-token-issuer.js";
import { ACCEPTED_ACCESS_TOKEN_TYPS, REPLICA_CLOCK_SKEW_SECONDS } from "../keys/access-token-profile.js";
import { VerifiedTokenCache } from "./verified-token-cache.js";
import { ACT_CLAIM, CHAIN_CLAIM, readActClaim, readChainClaim, type Actor, type TokenAncestor } from "./delegation-chain.js";

export interface ActiveAccessToken {
  readonly claims: JwtClaims;
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly audiences: readonly string[];
  readonly jti: string;
  readonly issuedAt: number;
  readonly notBefore: number;
  readonly expiresAt: number;
  readonly client: ClientRecord;
  /** RFC 8693 §4.1 `act`: who acts for the subject, for a token obtained by token exchange. */
  readonly actor: Actor | undefined;
  /** The tokens this one was derived from by token exchange, oldest first; empty for others. */
  readonly chain: readonly TokenAncestor[];
}

type SignedClaims = Omit<ActiveAccessToken, "client">;

export class AccessTokenVerifier {
  private readonly verified = new VerifiedTokenCache<SignedClaims, LoadedSigningKey>();
  /** Made once, not a closure per call: the cache asks it on every hit. */
  private readonly publishedKey = (kid: string) => this.options.keyRing.publishedKey(kid);

  constructor(
    private readonly options: {
      issuer: string;
      keyRing: Pick<KeyRing, "publishedKey">;
      registry: Pick<ClientRegistry, "find">;
      revocations: RevocationList;
      now: () => Date;
    },
  ) {}

  /** The token's facts if it is active now; undefined otherwise. */
  async verify(token: string): Promise<ActiveAccessToken | undefined> {
    const facts = await this.verifySignedClaims(token);
    if (!facts || this.options.revocations.isRevoked(facts)) return undefined;
    const now = this.options.now();
    if (facts.expiresAt <= now.getTime() / 1000) return undefined;
    const client = await this.issuingClient(facts);
    if (!client || !isUsable(client, now)) return undefined;
    if (facts.chain.length === 0) return withinCurrentAllowance({ ...facts, client }, this.options.issuer);
    const root = await this.standingChainRoot(facts.chain, now);
    return root && withinSubjectAllowance({ ...facts, client }, root);
  }

  /**
   * A derived token (RFC 8693 token exchange) stands only while every token it came from would
   * itself still verify as far as revocation and clients go: revoking the subject token, or
   * deactivating any client along the chain, ends every token derived from it at once. Each
   * ancestor expires no earlier than what was derived from it, so its revocation is still held.
   * Returns the client of the first token, whose authority the chain carries.
   */
  private async standingChainRoot(chain: readonly TokenAncestor[], now: Date): Promise<ClientRecord | undefined> {
    let root: ClientRecord | undefined;
    for (const ancestor of chain) {
      if (this.options.revocations.isRevoked(ancestor)) return undefined;
      const client = await this.issuingClient(ancestor);
      if (!client || !isUsable(client, now)) return undefined;
      root ??= client;
    }
    return root;
  }

  /**
   * The client the token was issued to, if that client still stands: a token issued before its
   * client was created again under the same id, changed status or came back from expiry
   * (Client.tokensNotBefore) belongs to a client that no longer exists in that form, and must
   * not come back to life with it.
   */
  private async issuingClient(facts: Pick<SignedClaims, "clientId" | "jti" | "issuedAt">): Promise<ClientRecord | undefined> {
    const client = await this.options.registry.find(facts.clientId);
    const issuedAt = accessTokenIssueTime({ jti: facts.jti, iat: facts.issuedAt });
    return client && issuedAt >= client.client.tokensNotBefore.getTime() ? client : undefined;
  }

  /**
   * A token we signed, with well-formed claims — whatever its expiry, revocation or client
   * status. Revocation needs this: a token of a deactivated client can still be revoked, so it
   * stays dead if the client is reactivated.
   */
  async verifySignedClaims(token: string): Promise<SignedClaims | undefined> {
    const nowSeconds = this.options.now().getTime() / 1000;
    const cached = this.verified.get(token, this.publishedKey, nowSeconds);
    if (cached) return cached;
    let jws;
    try {
      jws = decodeCompactJws(token);
    } catch (error) {
      if (error instanceof JwsFormatError) return undefined;
      throw error;
    }
    const { header, payload } = jws;
    // RFC 9068 §4: reject tokens whose typ is not at+jwt (also "application/at+jwt").
    if (typeof header.typ !== "string" || !ACCEPTED_ACCESS_TOKEN_TYPS.includes(header.typ)) return undefined;
    if (typeof header.kid !== "string") return undefined;
    const kid = header.kid;
    const key = this.publishedKey(kid);
    if (!key) return undefined;
    // The claims are only trusted once the signature holds; checking their shape first just
    // spares the thread pool tokens that would be refused anyway.
    if (payload.iss !== this.options.issuer) return undefined;
    const { exp, iat, nbf, jti, client_id: clientId, scope } = payload;
    if (typeof exp !== "number" || typeof iat !== "number" || typeof jti !== "string" || typeof clientId !== "string") {
      return undefined;
    }
    const notBefore = typeof nbf === "number" ? nbf : iat;
    if (notBefore > nowSeconds + REPLICA_CLOCK_SKEW_SECONDS) return undefined;
    const audiences = typeof payload.aud === "string" ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : undefined;
    if (!audiences || !audiences.every((value): value is string => typeof value === "string")) return undefined;
    const actor = readActClaim(payload[ACT_CLAIM]);
    const chain = readChainClaim(payload[CHAIN_CLAIM]);
    if (actor === null || chain === null) return undefined;
    if (!(await verifyJwsSignature(jws, key))) return undefined;
    const facts: SignedClaims = {
      claims: payload,
      clientId,
      scopes: typeof scope === "string" && scope.length > 0 ? scope.split(" ") : [],
      audiences,
      jti,
      issuedAt: iat,
      notBefore,
      expiresAt: exp,
      actor,
      chain,
    };
    this.verified.set({ token, facts, kid, key, expiresAt: exp });
    return facts;
  }
}

/**
 * What a token grants is capped by what its client may have now: a scope or audience withdrawn
 * from the client stops counting at once, not when the token expires, so demoting an admin takes
 * effect on its next call. Tessera itself is every client's implicit audience (a client with no
 * audiences gets tokens for the issuer). A token left with no audience grants nothing: inactive.
 */
function withinCurrentAllowance(token: ActiveAccessToken, issuer: string): ActiveAccessToken | undefined {
  const { allowedScopes, allowedAudiences } = token.client.client;
  const scopeAllowed = (scope: string) => allowedScopes.includes(scope);
  const audienceAllowed = (audience: string) => audience === issuer || allowedAudiences.includes(audience);
  // The common case allocates nothing more.
  if (token.scopes.every(scopeAllowed) && token.audiences.every(audienceAllowed)) return token;
  const audiences = token.audiences.filter(audienceAllowed);
  if (audiences.length === 0) return undefined;
  return { ...token, scopes: token.scopes.filter(scopeAllowed), audiences };
}

/**
 * A derived token speaks for its subject, not for the client holding it: what it grants is
 * capped by what the first token's client may have now (a scope withdrawn from the subject stops
 * counting at once), never by the actor's own allowance. Its audiences were checked against the
 * actor's delegation policy when it was issued.
 */
function withinSubjectAllowance(token: ActiveAccessToken, root: ClientRecord): ActiveAccessToken {
  const { allowedScopes } = root.client;
  if (token.scopes.every((scope) => allowedScopes.includes(scope))) return token;
  return { ...token, scopes: token.scopes.filter((scope) => allowedScopes.includes(scope)) };
}
