/**
 * How the token source proves who it is (RFC 6749 §2.3): a client secret (Basic or in the body),
 * or a JWT signed with the client's private key (private_key_jwt, RFC 7523 §2.2, the client
 * assertion profile of RFC 7521 §4.2).
 */
import { KeyObject, randomUUID } from "node:crypto";
import { importJWK, SignJWT, type CryptoKey, type JWK } from "jose";

/** RFC 7521 §4.2 `client_assertion_type` for a JWT. */
export const JWT_BEARER_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** A private key for private_key_jwt: a JWK (with `alg`, or one is chosen by key type), a KeyObject or a CryptoKey. */
export interface PrivateKeyOptions {
  readonly key: JWK | KeyObject | CryptoKey;
  /** The JWS algorithm; default the JWK's `alg`, else RS256 for RSA, ES256/384/512 by curve, EdDSA for Ed25519. */
  readonly algorithm?: string;
  /** The `kid` header, so the issuer picks the registered key without trying each; default the JWK's `kid`. */
  readonly keyId?: string;
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined and base64-encoded. */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, "+");
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString("base64")}`;
}

export function algorithmFor(key: JWK | KeyObject | CryptoKey, explicit: string | undefined): string {
  if (explicit) return explicit;
  const jwk: JWK = key instanceof KeyObject ? (key.export({ format: "jwk" }) as JWK) : "kty" in key && typeof key.kty === "string" ? (key as JWK) : {};
  if (jwk.alg) return jwk.alg;
  if (jwk.kty === "RSA") return "RS256";
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return "EdDSA";
  if (jwk.kty === "EC") return jwk.crv === "P-384" ? "ES384" : jwk.crv === "P-521" ? "ES512" : "ES256";
  const algorithm = (key as CryptoKey).algorithm as { name?: string; namedCurve?: string } | undefined;
  if (algorithm?.name === "ECDSA") return algorithm.namedCurve === "P-384" ? "ES384" : algorithm.namedCurve === "P-521" ? "ES512" : "ES256";
  if (algorithm?.name === "Ed25519") return "EdDSA";
  return "RS256";
}

/** Signs fresh client assertions: one per token request, each with its own `jti` (RFC 7523 §3 item 7). */
export function clientAssertionSigner(options: {
  readonly clientId: string;
  readonly privateKey: PrivateKeyOptions;
  readonly now: () => number;
  /** Seconds the assertion is valid; short, as it is used at once. */
  readonly lifetimeSeconds?: number;
}): (audience: string) => Promise<string> {
  const { key } = options.privateKey;
  const algorithm = algorithmFor(key, options.privateKey.algorithm);
  const isJwk = !(key instanceof KeyObject) && "kty" in key && typeof key.kty === "string";
  const keyId = options.privateKey.keyId ?? (isJwk ? (key as JWK).kid : undefined);
  const signingKey: Promise<KeyObject | CryptoKey | Uint8Array> = isJwk ? importJWK(key as JWK, algorithm) : Promise.resolve(key as KeyObject | CryptoKey);
  // Unhandled until the first request awaits it; the first getToken() reports a bad key.
  signingKey.catch(() => undefined);
  const lifetime = options.lifetimeSeconds ?? 60;
  return async (audience) => {
    const now = Math.floor(options.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: algorithm, ...(keyId ? { kid: keyId } : {}) })
      // RFC 7523 §3: iss and sub are the client id; aud is the issuer identifier (RFC 7523bis,
      // which closes the audience confusion of naming an endpoint that another server also serves).
      .setIssuer(options.clientId)
      .setSubject(options.clientId)
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + lifetime)
      .setJti(randomUUID())
      .sign(await signingKey);
  };
}
