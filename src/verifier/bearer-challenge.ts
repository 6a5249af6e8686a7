/**
 * RFC 6750 on the wire, shared by the HTTP middleware and the Connect interceptor: reading the
 * Bearer token from an Authorization header (§2.1) and writing the WWW-Authenticate challenge
 * (§3) for a refusal.
 */
import { VerifierError } from "./verifier-error.js";

/** RFC 6750 §2.1 b64token. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The Bearer token, or undefined when the request carries no Bearer credentials at all (§3.1: an
 * absent header or another scheme get a challenge without an error code). A Bearer header that is
 * malformed is invalid_request.
 */
export function bearerTokenFrom(authorization: string | null | undefined): string | undefined {
  if (!authorization) return undefined;
  const match = /^\s*([A-Za-z]+)(?: +(.*?))?\s*$/.exec(authorization);
  if (match?.[1]?.toLowerCase() !== "bearer") return undefined;
  const token = match[2] ?? "";
  if (!B64TOKEN.test(token)) throw new VerifierError("invalid_request", "the Authorization header holds a malformed Bearer token");
  return token;
}

/** The credentials of an Authorization header: the scheme Tessera's tokens travel in, and the token. */
export interface PresentedToken {
  readonly scheme: "bearer" | "dpop";
  readonly token: string;
}

/**
 * A Bearer (RFC 6750 §2.1) or DPoP (RFC 9449 §7.1) token; undefined when the header carries
 * neither scheme. A malformed token in either is invalid_request.
 */
export function presentedTokenFrom(authorization: string | null | undefined): PresentedToken | undefined {
  if (!authorization) return undefined;
  const match = /^\s*([A-Za-z]+)(?: +(.*?))?\s*$/.exec(authorization);
  const scheme = match?.[1]?.toLowerCase();
  if (scheme !== "bearer" && scheme !== "dpop") return undefined;
  const token = match![2] ?? "";
  if (!B64TOKEN.test(token)) throw new VerifierError("invalid_request", `the Authorization header holds a malformed ${scheme === "dpop" ? "DPoP" : "Bearer"} token`);
  return { scheme, token };
}

/**
 * RFC 9449 §7.1: `DPoP algs="…", error="…", error_description="…"`, for a refusal of a DPoP
 * request or of a DPoP-bound token.
 */
export function dpopChallenge(options: { realm?: string | undefined; algorithms: readonly string[]; error?: VerifierError | undefined }): string {
  const params: string[] = [];
  if (options.realm !== undefined) params.push(`realm=${quoted(options.realm)}`);
  const { error } = options;
  if (error && error.code !== "temporarily_unavailable") params.push(`error=${quoted(error.code)}`, `error_description=${quoted(error.message)}`);
  params.push(`algs=${quoted(options.algorithms.join(" "))}`);
  return `DPoP ${params.join(", ")}`;
}

/** RFC 7230 §3.2.6 quoted-string. Our values are fixed texts and scope names, escaped all the same. */
function quoted(value: string): string {
  return `"${value.replace(/[\\"]/g, (char) => `\\${char}`)}"`;
}

/**
 * `Bearer realm="…", error="…", error_description="…", scope="…"` (§3); no error attributes
 * when the request had no Bearer token (§3.1).
 */
export function bearerChallenge(options: { realm?: string | undefined; error?: VerifierError | undefined }): string {
  const params: string[] = [];
  if (options.realm !== undefined) params.push(`realm=${quoted(options.realm)}`);
  const { error } = options;
  if (error && error.code !== "temporarily_unavailable") {
    params.push(`error=${quoted(error.code)}`, `error_description=${quoted(error.message)}`);
    if (error.code === "insufficient_scope" && error.requiredScopes.length > 0) params.push(`scope=${quoted(error.requiredScopes.join(" "))}`);
  }
  return params.length > 0 ? `Bearer ${params.join(", ")}` : "Bearer";
}
