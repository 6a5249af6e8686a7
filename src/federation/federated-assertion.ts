/**
 * Verifying a JWT an external issuer signed (RFC 7523 §3, RFC 7519 §7.2), for the three ways in:
 * the jwt-bearer grant (RFC 7523 §2.1), token exchange of an external token (RFC 8693 §2.1)
 * and client authentication by a federated assertion (RFC 7523 §2.2, Entra-style federated
 * credentials, and draft-ietf-oauth-spiffe-client-auth §3.1). The checks run cheapest first,
 * and nothing about the token is trusted before its issuer is known and its algorithm allowed:
 * the key is looked up only for an allowed asymmetric algorithm, so an HMAC token "signed" with
 * an issuer's public key as secret never reaches a verifier.
 */
import type { KeyObject } from "node:crypto";
import type { JWTPayload } from "jose";
import { TesseraError } from "../errors.js";
import type { AssertionReplayGuard } from "../oauth/client-authentication/assertion-replay-guard.js";
import { verifyForeignJwsSignature } from "../keys/foreign-jws.js";
import { decodeCompactJws, type DecodedJws, type JwsHeader } from "../keys/jwt.js";
import { VerifiedTokenCache } from "../oauth/verified-token-cache.js";
import type { FederationDirectory, TrustedIssuer } from "./federation.js";
import type { IssuerKeys } from "./issuer-keys.js";

/** Far above any workload token (a Kubernetes token is about 1 KiB): refused before decoding. */
export const MAX_FEDERATED_ASSERTION_LENGTH = 16_384;
/** The longest `sub` and `jti` accepted; both may become map keys or audit text. */
export const MAX_ASSERTION_SUBJECT_LENGTH = 1024;
export const MAX_ASSERTION_JTI_LENGTH = 256;

/**
 * Which way in the assertion came by; each has its own audience and `typ` rule.
 * - `grant`: jwt-bearer or token exchange; `aud` must hold one of the issuer's audiences.
 * - `client_assertion`: client authentication with an external issuer's token (jwt-bearer
 *   assertion type); same audience rule, as Entra's federated credentials use.
 * - `spiffe_client_assertion`: a JWT-SVID as client credential (jwt-spiffe assertion type):
 *   `aud` must be Tessera's issuer as its sole value (draft-ietf-oauth-spiffe-client-auth §3.1
 *   item 3, after draft-ietf-oauth-rfc7523bis).
 */
export type AssertionProfile = "grant" | "client_assertion" | "spiffe_client_assertion";

/**
 * Why an assertion was refused: a fixed set, so metrics labels stay bounded. The description
 * carried beside it says which check failed, never what a policy expected.
 */
export type FederationRefusalReason =
  | "malformed"
  | "unknown_issuer"
  | "algorithm"
  | "type"
  | "key"
  | "signature"
  | "expired"
  | "not_yet_valid"
  | "lifetime"
  | "age"
  | "audience"
  | "subject"
  | "replayed"
  | "no_matching_policy"
  | "client_not_named";

export const FEDERATION_REFUSAL_REASONS: readonly FederationRefusalReason[] = [
  "malformed", "unknown_issuer", "algorithm", "type", "key", "signature", "expired", "not_yet_valid",
  "lifetime", "age", "audience", "subject", "replayed", "no_matching_policy", "client_not_named",
];

/** A refused assertion: `invalid_grant` for grants; client authentication re-codes it `invalid_client`. */
export class FederationRefusal extends TesseraError {
  constructor(
    readonly reason: FederationRefusalReason,
    description: string,
    /** The configured issuer the assertion named; undefined when it named none we trust. */
    readonly issuer?: string | undefined,
  ) {
    super("invalid_grant", description);
  }
}

/** What the verifier needs of the replay guard (the one in oauth/client-authentication, shared with private_key_jwt and DPoP). */
export type ReplayGuard = Pick<AssertionReplayGuard, "remember">;

export interface VerifiedAssertion {
  readonly issuer: TrustedIssuer;
  /** The verified claims, as the issuer signed them. */
  readonly claims: Readonly<JWTPayload>;
  readonly subject: string;
}

export interface FederatedAssertionVerifierOptions {
  readonly directory: Pick<FederationDirectory, "trustedIssuer" | "spiffeTrustDomain">;
  readonly keys: IssuerKeys;
  readonly replayGuard: ReplayGuard;
  /** Tessera's issuer identifier: the audience when an issuer configures none. */
  readonly tesseraIssuer: string;
  readonly now: () => Date;
  /** Assertions whose signature was verified; a new one bounded by the defaults below when absent. */
  readonly verifiedAssertions?: VerifiedAssertionCache | undefined;
}

/**
 * What is kept of an assertion that passed every check: its decoded header and claims (frozen,
 * shared by every request presenting it) and the issuer's key that verified its signature. The
 * cache's own check drops an entry once its issuer's configuration is not the one it was
 * verified under (the directory hands out a new TrustedIssuer on every change).
 */
export interface VerifiedAssertionFacts {
  readonly header: JwsHeader;
  readonly claims: Readonly<JWTPayload>;
  readonly key: KeyObject;
}
export type VerifiedAssertionCache = VerifiedTokenCache<VerifiedAssertionFacts, TrustedIssuer>;

/** A workload fleet's tokens in use at once; an entry costs about twice its token's length. */
export const VERIFIED_ASSERTION_CACHE_SIZE = 4096;
/** Bytes of assertion text held at most (two a character), whatever the assertions' lengths. */
export const VERIFIED_ASSERTION_CACHE_BYTES = 8 * 1024 * 1024;

/** Algorithms that are never accepted from an external issuer, whatever it is configured with. */
function isForbiddenAlgorithm(alg: string): boolean {
  return alg === "none" || /^HS/i.test(alg);
}

/** JWT-SVID `typ` (SPIFFE JWT-SVID §2.2): absent, `JWT` or `JOSE`. */
const SPIFFE_TYPES = new Set(["JWT", "JOSE"]);

export class FederatedAssertionVerifier {
  /**
   * Workload tokens are presented again and again until they expire (a Kubernetes projected
   * token, a CI job's token), and their signature check is most of the work of accepting one.
   * A token seen before, as the very same text, under the same issuer configuration and key,
   * skips decoding and the signature check only: every other check below still runs on each
   * presentation (algorithm, type, time claims, audience, subject, the single-use `jti`), and
   * the policies are matched by the caller.
   */
  private readonly verified: VerifiedAssertionCache;

  constructor(private readonly options: FederatedAssertionVerifierOptions) {
    this.verified = options.verifiedAssertions ?? new VerifiedTokenCache(VERIFIED_ASSERTION_CACHE_SIZE, VERIFIED_ASSERTION_CACHE_BYTES);
  }

  /** The verified assertion, or a `FederationRefusal` saying which check failed. */
  async verify(assertion: string, profile: AssertionProfile): Promise<VerifiedAssertion> {
    if (assertion.length > MAX_FEDERATED_ASSERTION_LENGTH) throw new FederationRefusal("malformed", "the assertion is too long");
    const now = this.options.now();
    const nowSeconds = Math.floor(now.getTime() / 1000);
    const { directory } = this.options;
    const cached = this.verified.get(assertion, (issuerId) => directory.trustedIssuer(issuerId), nowSeconds);
    let jws: DecodedJws | undefined;
    if (!cached) {
      try {
        jws = decodeCompactJws(assertion);
      } catch {
        throw new FederationRefusal("malformed", "the assertion is not a JWT");
      }
    }
    const header = cached ? cached.header : jws!.header;
    const unverified = (cached ? cached.claims : jws!.payload) as JWTPayload;
    const issuer = this.trustedIssuerOf(unverified, profile);
    const refuse = (reason: FederationRefusalReason, description: string) => new FederationRefusal(reason, description, issuer.issuer);

    // RFC 8725 §3.1: the algorithm is the issuer's to allow, never the token's to choose.
    const alg = header.alg;
    if (typeof alg !== "string" || isForbiddenAlgorithm(alg) || !issuer.allowedAlgorithms.includes(alg)) {
      throw refuse("algorithm", "the assertion's algorithm is not allowed for its issuer");
    }
    if (header.crit !== undefined) throw refuse("malformed", "the assertion's header has unsupported critical parameters");
    this.checkType(header, issuer, profile, refuse);

    let key;
    try {
      key = await this.options.keys.keyFor(issuer, { alg, kid: typeof header.kid === "string" ? header.kid : undefined });
    } catch (error) {
      if (error instanceof TesseraError) throw refuse("key", error.description);
      throw error;
    }

    // A cached entry stands for a signature checked with this very key; another key (rotation,
    // a refetched key set) checks it again.
    if (cached?.key !== key) {
      const decoded = jws ?? decodeCompactJws(assertion);
      const verdict = verifyForeignJwsSignature(alg, key, decoded.signingInput, decoded.signature);
      if (verdict === "unfit-key") throw refuse("key", "the issuer's key does not fit the assertion's algorithm");
      if (verdict === "invalid") throw refuse("signature", "the assertion's signature does not verify");
    }
    const claims = unverified;

    const tolerance = issuer.clockToleranceSeconds;
    // RFC 7519 §4.1.4–4.1.6: NumericDates; exp is required here (RFC 7523 §3 item 4).
    const { exp, nbf, iat } = claims;
    if (!isNumericDate(exp)) throw refuse("malformed", "the assertion has no valid exp");
    if (exp <= nowSeconds - tolerance) throw refuse("expired", "the assertion has expired");
    if (nbf !== undefined && (!isNumericDate(nbf) || nbf > nowSeconds + tolerance)) throw refuse("not_yet_valid", "the assertion is not valid yet (nbf)");
    if (iat !== undefined && !isNumericDate(iat)) throw refuse("not_yet_valid", "the assertion has an invalid iat");
    if (iat !== undefined && iat > nowSeconds + tolerance) throw refuse("not_yet_valid", "the assertion was issued in the future (iat)");
    // Without iat, the time left stands for the lifetime: a token cannot hide a long one by omitting it.
    const lifetime = exp - (iat ?? nowSeconds);
    if (lifetime > issuer.maxTokenLifetimeSeconds) throw refuse("lifetime", "the assertion's lifetime is longer than its issuer allows");
    if (issuer.maxTokenAgeSeconds !== null) {
      if (iat === undefined) throw refuse("age", "the assertion has no iat, so its age cannot be checked");
      if (nowSeconds - iat > issuer.maxTokenAgeSeconds + tolerance) throw refuse("age", "the assertion is older than its issuer allows");
    }
    this.checkAudience(claims.aud, issuer, profile, refuse);

    const subject = claims.sub;
    if (typeof subject !== "string" || subject.length === 0 || subject.length > MAX_ASSERTION_SUBJECT_LENGTH) {
      throw refuse("subject", "the assertion has no usable sub");
    }
    if (issuer.keySource.kind === "spiffe" && !subject.startsWith(`spiffe://${issuer.keySource.trustDomain}/`)) {
      throw refuse("subject", "the assertion's sub is not a SPIFFE ID of its issuer's trust domain");
    }
    if (issuer.singleUse) await this.rememberJti(issuer, claims, refuse);
    if (cached?.key !== key) {
      this.verified.set({
        token: assertion,
        facts: { header: deepFreeze(header), claims: deepFreeze(claims), key },
        kid: issuer.issuer,
        key: issuer,
        expiresAt: exp + tolerance,
      });
    }
    return { issuer, claims, subject };
  }

  /**
   * The trusted issuer by the exact `iss`. A JWT-SVID may carry no `iss` (SPIFFE JWT-SVID §3):
   * then, for the SPIFFE profile only, the trust domain of its SPIFFE ID names the issuer
   * configured with that domain's bundle (draft-ietf-oauth-spiffe-client-auth §8.1: keys bound
   * to the trust domain, never discovered from the token).
   */
  private trustedIssuerOf(claims: JWTPayload, profile: AssertionProfile): TrustedIssuer {
    const { directory } = this.options;
    let issuer: TrustedIssuer | undefined;
    if (claims.iss === undefined && profile === "spiffe_client_assertion") {
      const domain = typeof claims.sub === "string" ? /^spiffe:\/\/([^/]+)\//.exec(claims.sub)?.[1] : undefined;
      if (domain === undefined) throw new FederationRefusal("subject", "the assertion's sub is not a SPIFFE ID");
      issuer = directory.spiffeTrustDomain?.(domain);
      if (!issuer) throw new FederationRefusal("unknown_issuer", "the assertion's trust domain is not trusted");
    } else {
      if (typeof claims.iss !== "string" || claims.iss.length === 0) throw new FederationRefusal("unknown_issuer", "the assertion has no iss");
      issuer = directory.trustedIssuer(claims.iss);
      if (!issuer) throw new FederationRefusal("unknown_issuer", "the assertion's issuer is not trusted");
    }
    if (profile === "spiffe_client_assertion" && issuer.keySource.kind !== "spiffe") {
      throw new FederationRefusal("unknown_issuer", "the assertion's issuer is not a SPIFFE trust domain", issuer.issuer);
    }
    return issuer;
  }

  private checkType(header: JwsHeader, issuer: TrustedIssuer, profile: AssertionProfile, refuse: Refuse): void {
    const typ: unknown = header.typ;
    if (typ !== undefined && typeof typ !== "string") throw refuse("type", "the assertion's typ is not a string");
    if (issuer.keySource.kind === "spiffe" || profile === "spiffe_client_assertion") {
      if (typ !== undefined && !SPIFFE_TYPES.has(typ.toUpperCase())) throw refuse("type", "the assertion's typ is not a JWT-SVID's");
      return;
    }
    // RFC 9068 §4 / RFC 8725 §3.11: an access token presented as an identity assertion is a
    // confusion of token kinds, whoever signed it.
    if (typ !== undefined && /^(application\/)?at\+jwt$/i.test(typ)) throw refuse("type", "the assertion is an access token");
  }

  private checkAudience(aud: JWTPayload["aud"], issuer: TrustedIssuer, profile: AssertionProfile, refuse: Refuse): void {
    const audiences = typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud : [];
    if (profile === "spiffe_client_assertion") {
      if (audiences.length !== 1 || audiences[0] !== this.options.tesseraIssuer) {
        throw refuse("audience", "the assertion's aud must be this server's issuer identifier alone");
      }
      return;
    }
    const accepted = issuer.audiences.length > 0 ? issuer.audiences : [this.options.tesseraIssuer];
    if (!audiences.some((value) => accepted.includes(value))) throw refuse("audience", "the assertion's aud does not name this server");
  }

  private async rememberJti(issuer: TrustedIssuer, claims: JWTPayload, refuse: Refuse): Promise<void> {
    const jti = claims.jti;
    if (typeof jti !== "string" || jti.length === 0 || jti.length > MAX_ASSERTION_JTI_LENGTH) {
      throw refuse("replayed", "the assertion has no usable jti, and its issuer allows each token once");
    }
    // Its own key space beside private_key_jwt's (client id, jti) in a shared guard.
    const seen = await this.options.replayGuard.remember(`federated\u0000${issuer.issuer}\u0000${jti}`, new Date((claims.exp! + issuer.clockToleranceSeconds) * 1000));
    if (seen === "full") throw new TesseraError("temporarily_unavailable", "too many assertions in flight; retry shortly");
    if (seen === "replayed") throw refuse("replayed", "the assertion was already used");
  }
}

type Refuse = (reason: FederationRefusalReason, description: string) => FederationRefusal;

/** Shared by every request presenting the token: nothing downstream may change it. */
function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}

function isNumericDate(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}
