/**
 * Verifying Tessera's access tokens in a resource server: RFC 9068 §4 validation of a JWT access
 * token against the issuer's published keys, then the route's scopes (RFC 6750 §3.1
 * insufficient_scope), and — for revocation-sensitive routes — one call to Tessera.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { errors as joseErrors, jwtVerify, type JWTHeaderParameters } from "jose";
import { createRemoteAuthentication, type RemoteAuthentication, type RemoteAuthenticationOptions, type RemoteAuthenticationResult } from "./remote-authentication.js";
import { RemoteKeySet, type RemoteKeySetOptions } from "./remote-key-set.js";
import { VerifierError } from "./verifier-error.js";
import { DpopReplayCache } from "./dpop-replay-cache.js";
import { DPOP_PROOF_WINDOW_SECONDS, DpopNonces, DpopProofError, verifyDpopProof } from "../keys/dpop-proof.js";
import {
  ACCEPTED_ACCESS_TOKEN_TYPS,
  ACCESS_TOKEN_SIGNING_ALGORITHMS,
  ACCESS_TOKEN_TYP,
  REQUIRED_ACCESS_TOKEN_CLAIMS,
  RESOURCE_SERVER_CLOCK_TOLERANCE_SECONDS,
} from "../keys/access-token-profile.js";

/** The algorithms Tessera signs with; anything else (`none`, HMAC) is refused before any key is looked up. */
export const ACCESS_TOKEN_ALGORITHMS = ACCESS_TOKEN_SIGNING_ALGORITHMS;
export type AccessTokenAlgorithm = (typeof ACCESS_TOKEN_ALGORITHMS)[number];

/** RFC 9068 §2.2: the claims every Tessera access token carries, plus the client's custom claims. */
export interface AccessTokenClaims {
  readonly iss: string;
  readonly sub: string;
  readonly aud: string | readonly string[];
  readonly exp: number;
  readonly iat: number;
  readonly nbf?: number;
  readonly jti: string;
  readonly client_id: string;
  readonly scope?: string;
  readonly [claim: string]: unknown;
}

/** Registered claims, and the delegation claims Tessera sets itself (RFC 8693 §4.1 `act`, its chain). */
const REGISTERED_CLAIMS = new Set(["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "act", "tessera_chain", "cnf"]);

/**
 * One link of an RFC 8693 §4.1 `act` chain: the party acting for the token's subject, and the
 * one that acted before it. Tessera's actors are clients: `subject` is a client id.
 */
export interface TokenActor {
  readonly subject: string;
  readonly actor?: TokenActor;
}

/**
 * Per route: `allow` takes both kinds of token (the default); `require` takes only delegated
 * tokens (obtained by token exchange, carrying `act`); `refuse` takes only a client's own tokens.
 */
export type DelegationRequirement = "allow" | "require" | "refuse";

/** The most actors read from one token; Tessera issues far shorter chains. */
const MAX_ACTORS = 32;

/** `act` read, innermost last; a malformed one makes the token invalid. */
function actorOf(value: unknown): TokenActor | undefined {
  if (value === undefined) return undefined;
  const subjects: string[] = [];
  for (let current: unknown = value; current !== undefined; ) {
    if (typeof current !== "object" || current === null || Array.isArray(current)) throw malformedAct();
    const { sub, act } = current as Record<string, unknown>;
    if (typeof sub !== "string" || sub === "" || subjects.length >= MAX_ACTORS) throw malformedAct();
    subjects.push(sub);
    current = act;
  }
  let actor: TokenActor | undefined;
  for (let index = subjects.length - 1; index >= 0; index--) actor = actor ? { subject: subjects[index]!, actor } : { subject: subjects[index]! };
  return actor;
}

const malformedAct = () => new VerifierError("invalid_token", "the token lacks a valid act claim");

export interface VerifiedAccessToken {
  /** The machine client the token was issued to (`client_id`). */
  readonly clientId: string;
  readonly subject: string;
  /** `scope`, split on spaces. */
  readonly scopes: readonly string[];
  readonly audiences: readonly string[];
  readonly issuer: string;
  /** `jti`. */
  readonly tokenId: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  readonly algorithm: AccessTokenAlgorithm;
  readonly keyId: string | undefined;
  /**
   * For a token obtained by token exchange (RFC 8693 §4.1 `act`): who acts for `subject`, the
   * current actor first (usually `clientId`). Undefined for a client's own token.
   */
  readonly actor: TokenActor | undefined;
  /** The actors' subjects, the current actor first; empty for a client's own token. */
  readonly actors: readonly string[];
  /** The whole claim set as signed. */
  readonly claims: AccessTokenClaims;
  /** The claims from the client's claims template (everything not registered above). */
  readonly customClaims: Readonly<Record<string, unknown>>;
  /** Present when Tessera was asked too (`checkRevocation`). */
  readonly remote?: RemoteAuthenticationResult;
}

export interface VerifierOptions {
  /** Tessera's issuer, exactly as in its tokens' `iss` (its TESSERA_ISSUER). */
  readonly issuer: string;
  /** This resource server's audience; a token must name (one of) them in `aud`. */
  readonly audience: string | readonly string[];
  /** Default: `<issuer>/keys`. */
  readonly jwksUri?: string;
  /** Replaces the global fetch for the JWKS. */
  readonly fetch?: typeof globalThis.fetch;
  /** Narrows the accepted algorithms. Default: all of ACCESS_TOKEN_ALGORITHMS. */
  readonly algorithms?: readonly AccessTokenAlgorithm[];
  /** Tolerated clock difference for exp, nbf and iat. Default 30. */
  readonly clockToleranceSeconds?: number;
  /** JWKS caching: bounds on Cache-Control, unknown-kid cooldown, timeout. */
  readonly jwks?: Omit<RemoteKeySetOptions, "url" | "fetch" | "now">;
  /** Enables `checkRevocation`: this resource server's credentials for AuthenticateToken. */
  readonly remote?: RemoteAuthenticationOptions;
  /** DPoP (RFC 9449) at this resource: proofs are always checked for DPoP-bound tokens; this tunes how. */
  readonly dpop?: DpopVerifierOptions;
  /** The clock; for tests. */
  readonly now?: () => Date;
}

export interface DpopVerifierOptions {
  /**
   * Require server nonces (RFC 9449 §9): a proof must carry one this resource issued (refused
   * with use_dpop_nonce and a `DPoP-Nonce` header otherwise). Give every instance of the
   * resource server the same `nonceKey` (32 random bytes) so they accept each other's.
   */
  readonly requireNonce?: boolean;
  readonly nonceKey?: Uint8Array;
  /** Proofs remembered at most (replays refused); default 100,000. */
  readonly maxRememberedProofs?: number;
}

/** The resource request a DPoP-scheme token came with (RFC 9449 §7.1). */
export interface DpopRequest {
  /** The `DPoP` header; undefined when the request had none. */
  readonly proof: string | undefined;
  readonly method: string;
  /** The URL the client called (its public form: scheme, host and path). */
  readonly url: string;
}

export interface VerifyOptions {
  /** Scopes the token must all carry. */
  readonly requiredScopes?: readonly string[];
  /** Also ask Tessera, so a revoked token or a deactivated client is refused at once. Needs `remote`. */
  readonly checkRevocation?: boolean;
  /** Whether delegated tokens (with `act`) are taken; default `allow`. */
  readonly delegation?: DelegationRequirement;
  /**
   * The token came as `Authorization: DPoP` (RFC 9449 §7.1): its proof is checked against the
   * token's `cnf.jkt`. Without it, a DPoP-bound token is refused (it is not a bearer token).
   */
  readonly dpop?: DpopRequest;
  /**
   * The DER of the TLS client certificate of the request's connection, if it had one. A token
   * bound to a certificate (RFC 8705 §3, `cnf["x5t#S256"]`) is refused without it or with
   * another; `requireToken` passes the connection's peer certificate.
   */
  readonly clientCertificate?: Uint8Array | undefined;
}

export interface Verifier {
  readonly issuer: string;
  readonly audiences: readonly string[];
  /** Whether `checkRevocation` is available (createVerifier was given `remote`). */
  readonly canCheckRevocation: boolean;
  /** The token's claims, or a VerifierError: invalid_token, insufficient_scope or temporarily_unavailable. */
  verify(token: string, options?: VerifyOptions): Promise<VerifiedAccessToken>;
  /** Fetches the JWKS now, e.g. at start-up to fail fast. */
  preload(): Promise<void>;
  /** Closes the connection to Tessera used by `checkRevocation`. */
  close(): void;
  /** The nonce to hand out in `DPoP-Nonce`, when nonces are required; undefined otherwise. */
  dpopNonce(): string | undefined;
}

/**
 * RFC 8705 §3: a token whose `cnf` holds `x5t#S256` is good only over a connection with that
 * certificate. Returns the thumbprint of the presented certificate, for the remote check.
 */
function checkCertificateBinding(payload: Record<string, unknown>, certificate: Uint8Array | undefined): string | undefined {
  const thumbprint = certificate === undefined ? undefined : createHash("sha256").update(certificate).digest("base64url");
  const cnf = payload["cnf"];
  const bound = typeof cnf === "object" && cnf !== null ? (cnf as Record<string, unknown>)["x5t#S256"] : undefined;
  if (bound === undefined) return thumbprint;
  if (typeof bound !== "string") throw new VerifierError("invalid_token", "the token's cnf x5t#S256 is malformed");
  if (thumbprint === undefined) throw new VerifierError("invalid_token", "the token is bound to a client certificate and the connection presented none");
  const expected = Buffer.from(bound);
  const presented = Buffer.from(thumbprint);
  if (expected.length !== presented.length || !timingSafeEqual(expected, presented)) {
    throw new VerifierError("invalid_token", "the token is bound to another client certificate");
  }
  return thumbprint;
}

/** Fixed descriptions: they go into WWW-Authenticate, so they never quote the token. */
function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return "the token has expired";
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case "iss":
        return "the token is from another issuer";
      case "aud":
        return "the token is not for this audience";
      case "nbf":
        return "the token is not valid yet";
      case "iat":
        return "the token's issue time is invalid";
      case "typ":
        return "the token is not a JWT access token (typ at+jwt)";
      default:
        return `the token lacks a valid ${error.claim} claim`;
    }
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return "the token's signing algorithm is not accepted";
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "the token's signature is invalid";
  return "the token is malformed";
}

/** RFC 9449 §6.1 `cnf.jkt`; undefined for a token not bound to a DPoP key. */
function dpopKeyOf(payload: Record<string, unknown>): string | undefined {
  const cnf = payload.cnf;
  if (typeof cnf !== "object" || cnf === null) return undefined;
  const jkt = (cnf as Record<string, unknown>).jkt;
  if (jkt === undefined) return undefined;
  if (typeof jkt !== "string" || jkt === "") throw new VerifierError("invalid_token", "the token lacks a valid cnf claim");
  return jkt;
}

function stringClaim(payload: Record<string, unknown>, name: string): string {
  const value = payload[name];
  if (typeof value !== "string" || value === "") throw new VerifierError("invalid_token", `the token lacks a valid ${name} claim`);
  return value;
}

export function createVerifier(options: VerifierOptions): Verifier {
  const issuer = options.issuer;
  const audiences = typeof options.audience === "string" ? [options.audience] : [...options.audience];
  if (audiences.length === 0) throw new TypeError("createVerifier needs at least one audience");
  const now = options.now ?? (() => new Date());
  const algorithms = [...(options.algorithms ?? ACCESS_TOKEN_ALGORITHMS)];
  const keySet = new RemoteKeySet({
    ...options.jwks,
    url: options.jwksUri ?? `${issuer.replace(/\/+$/, "")}/keys`,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    now: () => now().getTime(),
  });
  const remote: RemoteAuthentication | undefined = options.remote
    ? createRemoteAuthentication({ ...options.remote, baseUrl: options.remote.baseUrl ?? issuer })
    : undefined;

  const dpopNonces = options.dpop?.requireNonce ? new DpopNonces(options.dpop.nonceKey) : undefined;
  const dpopReplays = new DpopReplayCache(options.dpop?.maxRememberedProofs);

  /** RFC 9449 §7.1: the proof matches the request, the token (`ath`) and the token's key, and is new. */
  async function checkDpop(token: string, jkt: string | undefined, request: DpopRequest | undefined): Promise<void> {
    if (request === undefined) {
      if (jkt !== undefined) throw new VerifierError("invalid_token", "the token is DPoP-bound: send it with the DPoP scheme and a proof", { dpop: true });
      return;
    }
    if (jkt === undefined) throw new VerifierError("invalid_token", "the token is not DPoP-bound: send it with the Bearer scheme", { dpop: true });
    if (request.proof === undefined) throw new VerifierError("invalid_dpop_proof", "the request lacks a DPoP header");
    const nowSeconds = Math.floor(now().getTime() / 1000);
    let verified;
    try {
      verified = await verifyDpopProof(request.proof, { method: request.method, url: request.url, accessToken: token, jkt, now: nowSeconds, nonces: dpopNonces });
    } catch (error) {
      if (!(error instanceof DpopProofError)) throw error;
      throw new VerifierError(error.error, error.description, { dpopNonce: error.error === "use_dpop_nonce" ? dpopNonces?.current() : undefined });
    }
    const verdict = dpopReplays.remember(`${verified.jkt}\0${verified.jti}`, Math.max(nowSeconds, verified.iat) + DPOP_PROOF_WINDOW_SECONDS, nowSeconds);
    if (verdict === "replayed") throw new VerifierError("invalid_dpop_proof", "the DPoP proof was already used");
    if (verdict === "full") throw new VerifierError("temporarily_unavailable", "too many DPoP proofs to remember; retry shortly");
  }

  const resolveKey = (header: JWTHeaderParameters) => {
    // Checked before the key lookup, so that tokens of other kinds never cause a JWKS fetch.
    // Media types compare case-insensitively (RFC 7515 §4.1.9), as jose's own typ check does.
    const typ = header.typ?.toLowerCase();
    if (typ === undefined || !ACCEPTED_ACCESS_TOKEN_TYPS.includes(typ)) {
      throw new VerifierError("invalid_token", "the token is not a JWT access token (typ at+jwt)");
    }
    return keySet.getKey({ kid: header.kid, alg: header.alg });
  };

  async function verifyLocally(token: string) {
    try {
      return await jwtVerify<Record<string, unknown>>(token, resolveKey, {
        issuer,
        audience: audiences,
        algorithms,
        typ: ACCESS_TOKEN_TYP,
        requiredClaims: [...REQUIRED_ACCESS_TOKEN_CLAIMS],
        clockTolerance: options.clockToleranceSeconds ?? RESOURCE_SERVER_CLOCK_TOLERANCE_SECONDS,
        currentDate: now(),
      });
    } catch (error) {
      if (error instanceof VerifierError) throw error;
      throw new VerifierError("invalid_token", describeJoseError(error), { cause: error });
    }
  }

  return {
    issuer,
    audiences,
    canCheckRevocation: remote !== undefined,
    async verify(token, verifyOptions = {}) {
      if (verifyOptions.checkRevocation && !remote) {
        throw new TypeError("checkRevocation needs createVerifier({ remote: { clientId, clientSecret } })");
      }
      if (typeof token !== "string" || token === "") throw new VerifierError("invalid_token", "the token is empty");
      const { payload, protectedHeader } = await verifyLocally(token);
      const clientCertificateThumbprint = checkCertificateBinding(payload, verifyOptions.clientCertificate);
      const claims = payload as AccessTokenClaims;
      const scope = payload.scope === undefined ? "" : payload.scope;
      if (typeof scope !== "string") throw new VerifierError("invalid_token", "the token lacks a valid scope claim");
      const scopes = scope.split(" ").filter((value) => value !== "");
      const tokenAudiences = typeof claims.aud === "string" ? [claims.aud] : [...claims.aud];
      const actor = actorOf(payload["act"]);
      const actors: string[] = [];
      for (let current = actor; current; current = current.actor) actors.push(current.subject);
      const verified: VerifiedAccessToken = {
        clientId: stringClaim(payload, "client_id"),
        subject: stringClaim(payload, "sub"),
        tokenId: stringClaim(payload, "jti"),
        issuer: claims.iss,
        scopes,
        audiences: tokenAudiences,
        issuedAt: new Date(claims.iat * 1000),
        expiresAt: new Date(claims.exp * 1000),
        algorithm: protectedHeader.alg as AccessTokenAlgorithm,
        keyId: protectedHeader.kid,
        actor,
        actors,
        claims,
        customClaims: Object.fromEntries(Object.entries(payload).filter(([name]) => !REGISTERED_CLAIMS.has(name))),
      };
      await checkDpop(token, dpopKeyOf(payload), verifyOptions.dpop);

      // RFC 6750 §3.1: a valid token without the route's scopes is insufficient_scope (403), not invalid.
      const requiredScopes = verifyOptions.requiredScopes ?? [];
      const missingScopes = requiredScopes.filter((required) => !scopes.includes(required));
      if (missingScopes.length > 0) {
        throw new VerifierError("insufficient_scope", `the token lacks the scopes ${missingScopes.join(" ")}`, { requiredScopes, missingScopes });
      }

      // A route's choice of delegated or direct callers is about what the token is allowed to
      // do here, as a scope is: 403 insufficient_scope, not a bad token.
      const delegation = verifyOptions.delegation ?? "allow";
      if (delegation === "require" && !actor) {
        throw new VerifierError("insufficient_scope", "this route takes only delegated tokens (RFC 8693 act)", { requiredScopes });
      }
      if (delegation === "refuse" && actor) {
        throw new VerifierError("insufficient_scope", "this route does not take delegated tokens (RFC 8693 act)", { requiredScopes });
      }

      if (!verifyOptions.checkRevocation || !remote) return verified;
      const requiredAudience = audiences.find((audience) => tokenAudiences.includes(audience))!;
      const dpop = verifyOptions.dpop?.proof === undefined ? undefined : { ...verifyOptions.dpop, proof: verifyOptions.dpop.proof };
      return { ...verified, remote: await remote.authenticate(token, { requiredScopes, requiredAudience, dpop, clientCertificateThumbprint }) };
    },
    preload: () => keySet.reload(),
    close: () => remote?.close(),
    dpopNonce: () => dpopNonces?.current(),
  };
}
