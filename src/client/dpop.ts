/**
 * The caller's side of DPoP (RFC 9449 §4): proofs signed with a key the caller holds, one per
 * request, each with its own `jti`, naming the request's method and URL, and (at a resource) the
 * access token's hash. The public key travels in the proof's header; the private one never leaves.
 */
import { createHash, createPublicKey, KeyObject, randomUUID } from "node:crypto";
import { exportJWK, importJWK, SignJWT, type CryptoKey, type JWK } from "jose";
import { algorithmFor, type PrivateKeyOptions } from "./client-authentication.js";

/** What one proof names: the request, and at a resource the access token and the server's nonce. */
export interface DpopProofInput {
  readonly method: string;
  readonly url: string;
  readonly accessToken?: string;
  /** The last `DPoP-Nonce` the server sent, when it asks for nonces (RFC 9449 §8, §9). */
  readonly nonce?: string;
}

export type DpopProofSigner = (input: DpopProofInput) => Promise<string>;

/** Signs DPoP proofs with `key` (ES256, EdDSA, PS256 or RS256, the algorithms Tessera accepts). */
export function dpopProofSigner(options: { readonly key: PrivateKeyOptions | PrivateKeyOptions["key"]; readonly now?: () => number }): DpopProofSigner {
  const keyOptions: PrivateKeyOptions = typeof options.key === "object" && options.key !== null && "key" in options.key ? options.key : { key: options.key as PrivateKeyOptions["key"] };
  const { key } = keyOptions;
  const algorithm = algorithmFor(key, keyOptions.algorithm);
  const isJwk = !(key instanceof KeyObject) && "kty" in key && typeof key.kty === "string";
  const prepared = (async () => {
    const signingKey: KeyObject | CryptoKey | Uint8Array = isJwk ? await importJWK(key as JWK, algorithm) : (key as KeyObject | CryptoKey);
    const publicJwk = isJwk ? (key as JWK) : signingKey instanceof KeyObject ? await exportJWK(createPublicKey(signingKey)) : await publicOfCryptoKey(signingKey as CryptoKey);
    return { signingKey, jwk: publicPart(publicJwk) };
  })();
  prepared.catch(() => undefined);
  const now = options.now ?? Date.now;
  return async (input) => {
    const { signingKey, jwk } = await prepared;
    const claims: Record<string, unknown> = { jti: randomUUID(), htm: input.method, htu: withoutQuery(input.url) };
    if (input.accessToken !== undefined) claims.ath = createHash("sha256").update(input.accessToken, "ascii").digest("base64url");
    if (input.nonce !== undefined) claims.nonce = input.nonce;
    return new SignJWT(claims).setProtectedHeader({ alg: algorithm, typ: "dpop+jwt", jwk }).setIssuedAt(Math.floor(now() / 1000)).sign(signingKey);
  };
}

/** RFC 9449 §4.2: `htu` without query and fragment. */
function withoutQuery(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

/** The public members of a JWK (RFC 7517 §4, RFC 7518 §6): never a private one in a proof. */
function publicPart(jwk: JWK): JWK {
  const { kty, crv, x, y, n, e } = jwk;
  return Object.fromEntries(Object.entries({ kty, crv, x, y, n, e }).filter(([, value]) => value !== undefined)) as JWK;
}

async function publicOfCryptoKey(key: CryptoKey): Promise<JWK> {
  // An extractable private CryptoKey exports with its public members, which publicPart keeps.
  return exportJWK(key);
}
