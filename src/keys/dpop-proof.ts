/**
 * The checks of a DPoP proof (RFC 9449 §4.3) that do not depend on who checks it: the token
 * endpoint, introspection / AuthenticateToken and the published `tessera/verifier` all call
 * these, so the three never disagree. It imports nothing of Tessera (only jose and node:crypto),
 * so the published verifier loads none of the server through it (test/architecture/layering).
 *
 * What stays with the caller: remembering `jti` (the server across replicas, the verifier in its
 * own bounded cache) and which nonces it issued (stateless HMACs, see DpopNonces).
 *
 * The signature is checked with jose's WebCrypto verify, which Node runs on libuv's thread pool,
 * so the event loop does not carry it.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { calculateJwkThumbprint, compactVerify, decodeProtectedHeader, importJWK, type JWK } from "jose";

/** RFC 9449 §4.2: the `typ` of a DPoP proof. */
export const DPOP_PROOF_TYP = "dpop+jwt";

/** The asymmetric algorithms Tessera accepts in proofs (never `none` or HMAC, RFC 9449 §4.3 item 5). */
export const DPOP_SIGNING_ALGORITHMS = ["ES256", "EdDSA", "PS256", "RS256"] as const;

/** How far a proof's `iat` may lie from now, either way (RFC 9449 §11.1: a short window). */
export const DPOP_PROOF_WINDOW_SECONDS = 60;

/** Bounds on caller input: a proof larger than this or a `jti` longer than this is refused. */
export const DPOP_PROOF_MAX_LENGTH = 8192;
export const DPOP_JTI_MAX_LENGTH = 256;
export const DPOP_NONCE_MAX_LENGTH = 256;

/** JWK members that only a private key has (RFC 7518 §6.2.2, §6.3.2; RFC 8037 §2). */
const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/** Why a proof was refused: `use_dpop_nonce` asks the caller to retry with the nonce it is given. */
export class DpopProofError extends Error {
  override readonly name = "DpopProofError";
  constructor(
    readonly error: "invalid_dpop_proof" | "use_dpop_nonce",
    readonly description: string,
  ) {
    super(description);
  }
}

export interface VerifiedDpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key: what `cnf.jkt` holds (RFC 9449 §6.1). */
  readonly jkt: string;
  readonly jti: string;
  /** Seconds since the epoch. */
  readonly iat: number;
}

export interface DpopProofExpectations {
  /** The request's method (`htm`). */
  readonly method: string;
  /** The request's URL (`htu`), compared after normalisation without query and fragment. */
  readonly url: string;
  /** At a resource: the access token the proof must hash in `ath` (RFC 9449 §4.3 item 11). */
  readonly accessToken?: string | undefined;
  /** At a resource: the token's `cnf.jkt` the proof's key must match (RFC 9449 §7.1). */
  readonly jkt?: string | undefined;
  /** Seconds since the epoch. */
  readonly now: number;
  /** `iat` window either way; DPOP_PROOF_WINDOW_SECONDS by default. */
  readonly windowSeconds?: number | undefined;
  /** When nonces are required: whether the proof's `nonce` is one the checker issued and still accepts. */
  readonly nonces?: Pick<DpopNonces, "accepts"> | undefined;
}

/**
 * RFC 9449 §4.3 (items 1–12 except replay, which the caller checks with `jti`): returns the key's
 * thumbprint, or throws a DpopProofError.
 */
export async function verifyDpopProof(proof: string, expected: DpopProofExpectations): Promise<VerifiedDpopProof> {
  if (proof.length === 0 || proof.length > DPOP_PROOF_MAX_LENGTH) throw invalid("the DPoP proof is empty or too large");
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    throw invalid("the DPoP proof is not a JWS");
  }
  if (header.typ !== DPOP_PROOF_TYP) throw invalid(`the DPoP proof's typ must be ${DPOP_PROOF_TYP}`);
  if (typeof header.alg !== "string" || !(DPOP_SIGNING_ALGORITHMS as readonly string[]).includes(header.alg)) {
    throw invalid(`the DPoP proof's alg must be one of ${DPOP_SIGNING_ALGORITHMS.join(" ")}`);
  }
  const jwk = header.jwk;
  if (!isObject(jwk) || typeof jwk.kty !== "string") throw invalid("the DPoP proof's header must carry the public key as jwk");
  if (PRIVATE_JWK_MEMBERS.some((member) => member in jwk)) throw invalid("the DPoP proof's jwk must not contain a private or symmetric key");
  let payload: Record<string, unknown>;
  let jkt: string;
  try {
    const key = await importJWK(jwk as JWK, header.alg);
    const { payload: bytes } = await compactVerify(proof, key, { algorithms: [...DPOP_SIGNING_ALGORITHMS] });
    const parsed: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (!isObject(parsed)) throw new Error("not an object");
    payload = parsed;
    jkt = await calculateJwkThumbprint(jwk as JWK, "sha256");
  } catch {
    throw invalid("the DPoP proof's signature does not verify with its jwk");
  }
  const { jti, htm, htu, iat, nonce, ath } = payload;
  if (typeof jti !== "string" || jti.length === 0 || jti.length > DPOP_JTI_MAX_LENGTH) throw invalid("the DPoP proof needs a jti of at most 256 characters");
  if (htm !== expected.method) throw invalid("the DPoP proof's htm does not match the request's method");
  if (typeof htu !== "string" || normalizeHtu(htu) === undefined || normalizeHtu(htu) !== normalizeHtu(expected.url)) {
    throw invalid("the DPoP proof's htu does not match the request's URL");
  }
  const window = expected.windowSeconds ?? DPOP_PROOF_WINDOW_SECONDS;
  if (typeof iat !== "number" || !Number.isFinite(iat) || Math.abs(iat - expected.now) > window) {
    throw invalid("the DPoP proof's iat is outside the accepted window");
  }
  if (expected.nonces) {
    if (typeof nonce !== "string" || nonce.length > DPOP_NONCE_MAX_LENGTH || !expected.nonces.accepts(nonce)) {
      throw new DpopProofError("use_dpop_nonce", "the DPoP proof must carry the server's current nonce");
    }
  }
  if (expected.accessToken !== undefined) {
    if (typeof ath !== "string" || !safeEqual(ath, accessTokenHash(expected.accessToken))) {
      throw invalid("the DPoP proof's ath does not hash the access token");
    }
  }
  if (expected.jkt !== undefined && !safeEqual(jkt, expected.jkt)) throw invalid("the DPoP proof is not signed by the key the token is bound to");
  return { jkt, jti, iat };
}

/** RFC 9449 §4.2 `ath`: base64url SHA-256 of the access token's ASCII. */
export function accessTokenHash(accessToken: string): string {
  return createHash("sha256").update(accessToken, "ascii").digest("base64url");
}

/**
 * RFC 9449 §4.3 item 9: `htu` compared without query and fragment, after RFC 3986 §6.2.2 and
 * §6.2.3 normalisation (scheme and host case, default port, dot segments, percent-encoding case),
 * which WHATWG URL parsing does. undefined for something that is not an absolute http(s) URL.
 */
export function normalizeHtu(url: string): string | undefined {
  if (url.length > 4096) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return undefined;
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

/**
 * Server nonces (RFC 9449 §8, §9) without shared state: a nonce is a time window and an HMAC of
 * it under a key every replica holds, so any replica accepts what another issued. The current and
 * the previous window are accepted, so a nonce lives between one and two windows.
 */
export class DpopNonces {
  private readonly key: Buffer;
  constructor(
    key: Uint8Array | undefined,
    private readonly windowSeconds: number = DPOP_PROOF_WINDOW_SECONDS,
    private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
  ) {
    this.key = key ? Buffer.from(key) : randomBytes(32);
  }

  /** The nonce to hand out now (`DPoP-Nonce`). */
  current(): string {
    return this.nonceFor(Math.floor(this.nowSeconds() / this.windowSeconds));
  }

  accepts(nonce: string): boolean {
    const dot = nonce.indexOf(".");
    if (dot <= 0 || dot > 16) return false;
    const window = Number(nonce.slice(0, dot));
    const current = Math.floor(this.nowSeconds() / this.windowSeconds);
    if (!Number.isSafeInteger(window) || (window !== current && window !== current - 1)) return false;
    return safeEqual(nonce, this.nonceFor(window));
  }

  private nonceFor(window: number): string {
    return `${window}.${createHmac("sha256", this.key).update(`dpop-nonce\0${window}`).digest("base64url")}`;
  }
}

function invalid(description: string): DpopProofError {
  return new DpopProofError("invalid_dpop_proof", description);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
