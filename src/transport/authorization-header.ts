/**
 * The Authorization header, as both transports receive it: Basic client credentials
 * (RFC 6749 §2.3.1: id and secret form-urlencoded, then base64) or a Bearer token
 * (RFC 6750 §2.1).
 */
import { TesseraError } from "../errors.js";
import type { PresentedClientCredentials } from "../oauth/client-authentication/presented-credentials.js";

/** The realm of every challenge (`WWW-Authenticate`) Tessera sends. */
export const AUTHENTICATION_REALM = "tessera";

export interface BasicAuthorization {
  readonly scheme: "basic";
  readonly clientId: string;
  /** The secret form-decoded, as RFC 6749 §2.3.1 says it was encoded. */
  readonly clientSecret: string;
  /**
   * The secret exactly as sent, when form-decoding changed it. Many clients (curl -u among them)
   * send Basic credentials without form-encoding them, so a secret holding "+" or "%" — which
   * `openssl rand -base64` produces half the time — would otherwise arrive altered.
   */
  readonly rawClientSecret?: string | undefined;
}

export type AuthorizationHeader = BasicAuthorization | { readonly scheme: "bearer"; readonly token: string };

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

function decodeBasicPart(value: string): string {
  // Generated ids and secrets need no decoding; most requests skip the replace and the decoder.
  if (value.indexOf("%") === -1 && value.indexOf("+") === -1) return value;
  try {
    return decodeURIComponent(value.replace(/\+/g, " "));
  } catch {
    throw new TesseraError("invalid_request", "malformed percent-encoding in the Basic credentials");
  }
}

/** Schemes are case-insensitive (RFC 9110 §11.1); the usual spellings skip toLowerCase. */
function lowerCaseScheme(scheme: string): string {
  if (scheme === "Basic" || scheme === "basic") return "basic";
  if (scheme === "Bearer" || scheme === "bearer") return "bearer";
  return scheme.toLowerCase();
}

/** undefined when absent; invalid_request when present but malformed or of another scheme. */
export function parseAuthorizationHeader(header: string | null | undefined): AuthorizationHeader | undefined {
  if (header === undefined || header === null || header === "") return undefined;
  const match = /^([A-Za-z]+) +(\S+) *$/.exec(header);
  const scheme = match ? lowerCaseScheme(match[1]!) : undefined;
  const value = match?.[2] ?? "";
  if (scheme === "bearer") {
    if (!TOKEN68.test(value)) throw new TesseraError("invalid_request", "malformed Bearer token");
    return { scheme: "bearer", token: value };
  }
  if (scheme !== "basic") throw new TesseraError("invalid_request", "Authorization header must use the Basic or Bearer scheme");
  if (!BASE64.test(value) || value.length % 4 === 1) throw new TesseraError("invalid_request", "Basic credentials are not valid base64");
  const decoded = Buffer.from(value, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon === -1) throw new TesseraError("invalid_request", "Basic credentials must be client_id:client_secret");
  const rawSecret = decoded.slice(colon + 1);
  let clientSecret: string;
  try {
    clientSecret = decodeBasicPart(rawSecret);
  } catch {
    // Not form-encoded (a raw "%" not followed by two hex digits): only the raw value can match.
    clientSecret = rawSecret;
  }
  return {
    scheme: "basic",
    clientId: decodeBasicPart(decoded.slice(0, colon)),
    clientSecret,
    ...(clientSecret !== rawSecret ? { rawClientSecret: rawSecret } : {}),
  };
}

/** client_secret_basic credentials from a parsed Basic header, the raw secret included. */
export function basicClientCredentials(header: BasicAuthorization): PresentedClientCredentials {
  return {
    method: "client_secret_basic",
    clientId: header.clientId,
    clientSecret: header.clientSecret,
    ...(header.rawClientSecret !== undefined ? { rawClientSecret: header.rawClientSecret } : {}),
  };
}
