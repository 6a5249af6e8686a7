/**
 * The Authorization header, as both transports receive it: Basic client credentials
 * (RFC 6749 §2.3.1: id and secret form-urlencoded, then base64) or a Bearer token
 * (RFC 6750 §2.1).
 */
import { TesseraError } from "../errors.js";

/** The realm of every challenge (`WWW-Authenticate`) Tessera sends. */
export const AUTHENTICATION_REALM = "tessera";

export type AuthorizationHeader =
  | { readonly scheme: "basic"; readonly clientId: string; readonly clientSecret: string }
  | { readonly scheme: "bearer"; readonly token: string };

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
  return { scheme: "basic", clientId: decodeBasicPart(decoded.slice(0, colon)), clientSecret: decodeBasicPart(decoded.slice(colon + 1)) };
}
