/**
 * The checks of a DPoP proof (RFC 9449 §4.3) that do not depend on who checks it: the token
 * endpoint, introspection / AuthenticateToken and the published `tessera/verifier` all call
 * these, so the three never disagree. It imports nothing of Tessera (only jose and node:crypto),
 * so the published verifier loads none of the server through it (test/architecture/layering).
 *
 * What stays with the caller: remembering `jti` (the server across replicas, the verifier in its
 * own bounded cache) and which nonces it issued (stateless HMACs, see DpopNonces).
 *
 * The signature is checked with the callback form of node:crypto's verify, which runs on libuv's
 * thread pool (as the signer's RSA signatures do), so the event loop does not carry it; parsing
 * and the RFC 7638 thumbprint are done here directly, without WebCrypto's per-call key import.
 * It imports nothing but node:crypto.
 */
import { constants, createHash, createHmac, createPublicKey, randomBytes, timingSafeEqual, verify, type KeyObject } from "node:crypto";

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
  const parts = proof.split(".");
  if (parts.length !== 3) throw invalid("the DPoP proof is not a JWS");
  const { alg, jkt, key } = proofKeyOf(parts[0]!);
  const signature = Buffer.from(parts[2]!, "base64url");
  if (!(await verifySignature(alg, `${parts[0]}.${parts[1]}`, key, signature))) {
    throw invalid("the DPoP proof's signature does not verify with its jwk");
  }
  const payload = decodeSegment(parts[1]!);
  if (!payload) throw invalid("the DPoP proof's payload is not a JSON object");
  const { jti, htm, htu, iat, nonce, ath } = payload;
  if (typeof jti !== "string" || jti.length === 0 || jti.length > DPOP_JTI_MAX_LENGTH) throw invalid("the DPoP proof needs a jti of at most 256 characters");
  if (htm !== expected.method) throw invalid("the DPoP proof's htm does not match the request's method");
  if (typeof htu !== "string" || !sameHtu(htu, expected.url)) {
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
 * Whether the proof's `htu` names the request's URL. The server's URL is the same on every
 * request, so its normalisation is kept; a `htu` of exactly that text needs no parsing.
 */
let lastExpectedUrl: { readonly url: string; readonly normalized: string | undefined } | undefined;
function sameHtu(htu: string, url: string): boolean {
  if (lastExpectedUrl?.url !== url) lastExpectedUrl = { url, normalized: normalizeHtu(url) };
  const expected = lastExpectedUrl.normalized;
  if (expected === undefined) return false;
  return htu === url || normalizeHtu(htu) === expected;
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

type DpopSigningAlgorithm = (typeof DPOP_SIGNING_ALGORITHMS)[number];

/** A base64url JSON object (RFC 7515 §7.1), or undefined. */
function decodeSegment(segment: string): Record<string, unknown> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(segment)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** RFC 7638 §3.2: the required members of each key type, in lexicographic order. */
const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = { EC: ["crv", "kty", "x", "y"], OKP: ["crv", "kty", "x"], RSA: ["e", "kty", "n"] };

/** RFC 7638 SHA-256 thumbprint, base64url; undefined when a required member is missing. */
export function thumbprint(jwk: Record<string, unknown>): string | undefined {
  const members = THUMBPRINT_MEMBERS[jwk.kty as string];
  if (!members || members.some((member) => typeof jwk[member] !== "string")) return undefined;
  const canonical = `{${members.map((member) => `${JSON.stringify(member)}:${JSON.stringify(jwk[member])}`).join(",")}}`;
  return createHash("sha256").update(canonical, "utf8").digest("base64url");
}

/** What a proof's protected header yields once it passed every check of it. */
interface ProofKey {
  readonly alg: DpopSigningAlgorithm;
  readonly jkt: string;
  readonly key: KeyObject;
}

/**
 * Protected headers already checked, by their encoded text: a client signs every proof with the
 * same key, so every proof of it carries the very same header segment, and everything read from
 * it (typ, alg, crit, the jwk, its thumbprint and key) is a function of that text alone. Only
 * headers that passed are kept; bounded in entries, each entry's text at most
 * CHECKED_HEADER_MAX_LENGTH (an RSA-8192 key's header fits; longer ones are checked every time).
 */
const checkedHeaders = new Map<string, ProofKey>();
const CHECKED_HEADERS_MAX = 1_000;
const CHECKED_HEADER_MAX_LENGTH = 2_048;

/** RFC 9449 §4.3 items 2–7 on the protected header: the proof's algorithm, key and thumbprint, or a DpopProofError. */
function proofKeyOf(segment: string): ProofKey {
  const known = checkedHeaders.get(segment);
  if (known) return known;
  const header = decodeSegment(segment);
  if (!header) throw invalid("the DPoP proof is not a JWS");
  if (header.typ !== DPOP_PROOF_TYP) throw invalid(`the DPoP proof's typ must be ${DPOP_PROOF_TYP}`);
  const alg = header.alg;
  if (typeof alg !== "string" || !(DPOP_SIGNING_ALGORITHMS as readonly string[]).includes(alg)) {
    throw invalid(`the DPoP proof's alg must be one of ${DPOP_SIGNING_ALGORITHMS.join(" ")}`);
  }
  // RFC 7515 §4.1.11: an extension the verifier does not understand makes the JWS invalid.
  if (header.crit !== undefined) throw invalid("the DPoP proof must not carry crit");
  const jwk = header.jwk;
  if (!isObject(jwk) || typeof jwk.kty !== "string") throw invalid("the DPoP proof's header must carry the public key as jwk");
  if (PRIVATE_JWK_MEMBERS.some((member) => member in jwk)) throw invalid("the DPoP proof's jwk must not contain a private or symmetric key");
  const jkt = thumbprint(jwk);
  const key = jkt === undefined ? undefined : publicKeyFor(alg as DpopSigningAlgorithm, jwk, jkt);
  if (!key || !jkt) throw invalid("the DPoP proof's jwk is not a public key for its alg");
  const checked: ProofKey = { alg: alg as DpopSigningAlgorithm, jkt, key };
  if (segment.length <= CHECKED_HEADER_MAX_LENGTH) {
    if (checkedHeaders.size >= CHECKED_HEADERS_MAX) checkedHeaders.delete(checkedHeaders.keys().next().value!);
    checkedHeaders.set(segment, checked);
  }
  return checked;
}

/**
 * Keys already imported, by thumbprint: a client signs every proof with the same key, and the
 * thumbprint hashes exactly the members the key is built from, so a hit is that very key.
 * Bounded; the oldest entry goes first.
 */
const importedKeys = new Map<string, KeyObject | null>();
const IMPORTED_KEYS_MAX = 1_000;

/** The key the algorithm takes (RFC 7518 §3.3–3.5, RFC 8037 §3.1): P-256, Ed25519, RSA of 2048–8192 bits. */
function publicKeyFor(alg: DpopSigningAlgorithm, jwk: Record<string, unknown>, jkt: string): KeyObject | undefined {
  const fits =
    alg === "ES256" ? jwk.kty === "EC" && jwk.crv === "P-256" : alg === "EdDSA" ? jwk.kty === "OKP" && jwk.crv === "Ed25519" : jwk.kty === "RSA";
  if (!fits) return undefined;
  let key = importedKeys.get(jkt);
  if (key === undefined) {
    key = importKey(jwk);
    if (importedKeys.size >= IMPORTED_KEYS_MAX) importedKeys.delete(importedKeys.keys().next().value!);
    importedKeys.set(jkt, key);
  }
  return key ?? undefined;
}

/** null for members that make no key, or an RSA modulus outside 2048–8192 bits. */
function importKey(jwk: Record<string, unknown>): KeyObject | null {
  const members = THUMBPRINT_MEMBERS[jwk.kty as string]!;
  try {
    const key = createPublicKey({ key: Object.fromEntries(members.map((member) => [member, jwk[member]])), format: "jwk" });
    if (jwk.kty === "RSA") {
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < 2048 || bits > 8192) return null;
    }
    return key;
  } catch {
    return null;
  }
}

/** The callback form of crypto.verify: on the thread pool. */
function verifySignature(alg: DpopSigningAlgorithm, signingInput: string, key: KeyObject, signature: Buffer): Promise<boolean> {
  const data = Buffer.from(signingInput, "ascii");
  const digest = alg === "EdDSA" ? null : "sha256";
  const options =
    alg === "ES256"
      ? { key, dsaEncoding: "ieee-p1363" as const }
      : alg === "PS256"
        ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
        : key;
  return new Promise((resolve) => {
    try {
      verify(digest, data, options, signature, (error, valid) => resolve(!error && valid));
    } catch {
      resolve(false);
    }
  });
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
