/**
 * Compact JWS encoding and verification on node:crypto (RFC 7515 §7.1); signing is
 * src/keys/jws-signer.ts. Assembled by hand rather than with jose because the hot path pays for
 * every allocation and await; keys are KeyObjects imported once.
 */
import { verify as cryptoVerify, type KeyObject } from "node:crypto";
import { ALGORITHM_SPECS, isSigningAlgorithm, type SigningAlgorithm } from "./algorithms.js";

export interface JwsHeader {
  readonly alg: string;
  readonly kid?: string;
  readonly typ?: string;
  readonly crit?: unknown;
  readonly [name: string]: unknown;
}

export type JwtClaims = Record<string, unknown>;

/** Longest compact JWT accepted for verification; ours are well under 2 KiB. */
export const MAX_JWT_LENGTH = 16 * 1024;

function encodeSegment(value: object): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}

/** The first segment of a compact JWS. Tokens signed by one key share it, so callers keep it. */
export function encodeJwsHeader(header: { alg: SigningAlgorithm; kid: string; typ?: string }): string {
  return encodeSegment(header);
}

/** What a JWS signature covers (RFC 7515 §5.1): the encoded header, a dot, the encoded payload. */
export function jwsSigningInput(encodedHeader: string, payload: JwtClaims): string {
  return `${encodedHeader}.${encodeSegment(payload)}`;
}

export class JwsFormatError extends Error {
  override readonly name = "JwsFormatError";
}

export interface DecodedJws {
  readonly header: JwsHeader;
  readonly payload: JwtClaims;
  readonly signingInput: string;
  readonly signature: Buffer;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Splits and decodes a compact JWS without checking its signature. Throws JwsFormatError. */
export function decodeCompactJws(token: string): DecodedJws {
  if (token.length > MAX_JWT_LENGTH) throw new JwsFormatError("token too long");
  const first = token.indexOf(".");
  const second = token.indexOf(".", first + 1);
  if (first <= 0 || second <= first + 1 || token.indexOf(".", second + 1) !== -1) {
    throw new JwsFormatError("not a compact JWS");
  }
  const headerPart = token.slice(0, first);
  const payloadPart = token.slice(first + 1, second);
  const signaturePart = token.slice(second + 1);
  if (!BASE64URL.test(headerPart) || !BASE64URL.test(payloadPart) || !BASE64URL.test(signaturePart)) {
    throw new JwsFormatError("not base64url");
  }
  const header = parseJsonObject(headerPart);
  const payload = parseJsonObject(payloadPart);
  if (typeof header.alg !== "string") throw new JwsFormatError("header has no alg");
  return {
    header: header as JwsHeader,
    payload,
    signingInput: token.slice(0, second),
    signature: Buffer.from(signaturePart, "base64url"),
  };
}

function parseJsonObject(segment: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
  } catch {
    throw new JwsFormatError("segment is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new JwsFormatError("segment is not a JSON object");
  return value as Record<string, unknown>;
}

/**
 * Checks the signature of a decoded JWS with a known public key. The algorithm must be the
 * key's own: the header never chooses it (no `none`, no HS256-with-a-public-key confusion).
 */
export function verifyJwsSignature(jws: DecodedJws, key: { alg: SigningAlgorithm; publicKey: KeyObject }): Promise<boolean> {
  if (!isSigningAlgorithm(jws.header.alg) || jws.header.alg !== key.alg) return Promise.resolve(false);
  // RFC 7515 §4.1.11: we understand no critical extensions, so any `crit` is a rejection.
  if (jws.header.crit !== undefined) return Promise.resolve(false);
  const spec = ALGORITHM_SPECS[key.alg];
  // The callback form runs on libuv's thread pool, like signing: the event loop only parses
  // and answers, and verification uses the other cores.
  return new Promise((resolve) => {
    cryptoVerify(spec.digest, Buffer.from(jws.signingInput, "latin1"), spec.keyOptions(key.publicKey), jws.signature, (error, valid) =>
      resolve(!error && valid),
    );
  });
}
