/**
 * private_key_jwt (RFC 7523 §2.2, §3; OIDC Core §9): the client signs a short-lived JWT with a
 * key it registered, inline or at its `jwks_uri` (RFC 7591 §2). We check the signature against
 * those keys, iss = sub = client_id, exp (bounded), that the jti is new on every replica, and
 * the audience rule of draft-ietf-oauth-rfc7523bis §4: `aud` is our issuer identifier, as a
 * string or an array holding only it. The token endpoint URL is no longer accepted (it let an
 * assertion meant for one server be replayed at another that shared the URL scheme:
 * CVE-2025-27370/27371), but during a transition an operator may accept it until a date. `typ`
 * may be `client-authentication+jwt` (rfc7523bis §5); another explicit type is some other kind of JWT.
 */
import { generateKeyPair, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet, type JWSHeaderParameters, type JWTVerifyGetKey } from "jose";
import type { Client, ClientRecord } from "../../clients/client.js";
import { ASSERTION_ALGORITHMS, usableAssertionKeys } from "../../clients/client-keys.js";
import { TesseraError } from "../../errors.js";
import type { PresentedClientCredentials } from "./presented-credentials.js";
import type { ClientAuthenticationContext } from "./context.js";
import { invalidClient } from "./invalid-client.js";

export const JWT_BEARER_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** The algorithms a client may sign its assertions with (published in the metadata). */
export { ASSERTION_ALGORITHMS };

/** Assertions are meant to be minted per request; a long-lived one is refused. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 600;
const CLOCK_TOLERANCE_SECONDS = 30;
/** draft-ietf-oauth-rfc7523bis §5 explicit typing; `JWT` and no typ stay accepted. */
export const CLIENT_ASSERTION_TYP = "client-authentication+jwt";
const ACCEPTED_TYPES = new Set([CLIENT_ASSERTION_TYP, "application/client-authentication+jwt", "jwt", "application/jwt"]);
/**
 * The longest `jti` accepted: it is kept in the replay cache until the assertion expires, so its
 * length is the caller's to choose otherwise. A UUID is 36 characters; 256 leaves room for any
 * sensible scheme.
 */
export const MAX_ASSERTION_JTI_LENGTH = 256;

type KeySet = ReturnType<typeof createLocalJWKSet>;

/**
 * A key set per client record, or null when the client has no usable key. Records are immutable
 * and replaced on every change, so keying on the record drops stale key sets by themselves.
 */
const keySets = new WeakMap<Client, KeySet | null>();

function keySetOf(client: Client): KeySet | null {
  let keySet = keySets.get(client);
  if (keySet === undefined) {
    // Only keys that pass the registration rules: a weak or unusable key stored earlier is
    // never handed to jose, whose refusals of such keys are not JOSE errors.
    const keys = usableAssertionKeys(client.jwks);
    keySet = keys.length > 0 ? createLocalJWKSet({ keys } as unknown as JSONWebKeySet) : null;
    keySets.set(client, keySet);
  }
  return keySet;
}

/**
 * Stand-in public keys, one per algorithm family, that no assertion matches. An assertion naming
 * an unknown client, or one without registered keys, is checked against the one for its `alg`
 * (whatever its `kid`) before it is refused, so it costs the signature check a client with keys
 * costs, and timing does not tell which ids exist. Made on first use.
 */
let decoys: Promise<Record<"rsa" | "p256" | "p384" | "p521" | "ed25519", KeyObject>> | undefined;

async function decoyKeyFor(header: JWSHeaderParameters): Promise<KeyObject> {
  // Off the event loop (an RSA key takes tens of milliseconds to make).
  decoys ??= (async () => {
    const [rsa, p256, p384, p521, ed25519] = await Promise.all([
      makeKeyPair("rsa", { modulusLength: 2048 }),
      makeKeyPair("ec", { namedCurve: "P-256" }),
      makeKeyPair("ec", { namedCurve: "P-384" }),
      makeKeyPair("ec", { namedCurve: "P-521" }),
      makeKeyPair("ed25519", {}),
    ]);
    return { rsa: rsa.publicKey, p256: p256.publicKey, p384: p384.publicKey, p521: p521.publicKey, ed25519: ed25519.publicKey };
  })();
  const keys = await decoys;
  switch (header.alg) {
    case "ES256":
      return keys.p256;
    case "ES384":
      return keys.p384;
    case "ES512":
      return keys.p521;
    case "EdDSA":
      return keys.ed25519;
    default:
      return keys.rsa;
  }
}

/**
 * The key resolver for a client registered by `jwks_uri`, or null when it has none (or nothing
 * here fetches such keys). A key that cannot be had (unknown kid, source unreachable) fails the
 * verification like a bad signature.
 */
function keysByUrl(client: Client, context: ClientAuthenticationContext): JWTVerifyGetKey | null {
  const source = context.clientKeysByUrl;
  if (!client.jwksUri || !source) return null;
  return (header) => source.clientKeyFor(client, { alg: header.alg, kid: header.kid });
}

const makeKeyPair = promisify(generateKeyPair) as (type: string, options: object) => Promise<{ publicKey: KeyObject }>;

export async function authenticateWithPrivateKeyJwt(
  credentials: PresentedClientCredentials,
  context: ClientAuthenticationContext,
): Promise<ClientRecord> {
  const { clientAssertion: assertion, clientAssertionType: type } = credentials;
  if (type !== JWT_BEARER_ASSERTION_TYPE) {
    throw new TesseraError("invalid_request", `client_assertion_type must be ${JWT_BEARER_ASSERTION_TYPE}`);
  }
  if (!assertion) throw new TesseraError("invalid_request", "client_assertion is required");

  let unverifiedSubject: unknown;
  try {
    unverifiedSubject = decodeJwt(assertion).sub;
  } catch {
    throw new TesseraError("invalid_request", "client_assertion is not a JWT");
  }
  const clientId = credentials.clientId ?? (typeof unverifiedSubject === "string" ? unverifiedSubject : undefined);
  if (!clientId) throw invalidClient();
  if (credentials.clientId !== undefined && unverifiedSubject !== credentials.clientId) throw invalidClient();

  const record = await context.registry.find(clientId);
  const keySet = record && (keySetOf(record.client) ?? keysByUrl(record.client, context));
  if (!record || !keySet) {
    await jwtVerify(assertion, decoyKeyFor, { algorithms: [...ASSERTION_ALGORITHMS] }).catch(() => undefined);
    throw invalidClient();
  }

  let payload;
  let typ: string | undefined;
  try {
    ({ payload, protectedHeader: { typ } } = await jwtVerify(assertion, keySet, {
      algorithms: [...ASSERTION_ALGORITHMS],
      issuer: clientId,
      subject: clientId,
      requiredClaims: ["exp", "jti", "aud"],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate: context.now(),
    }));
  } catch {
    // Whatever the cause — bad signature, wrong claims, or a key jose will not use (its
    // TypeErrors for weak RSA moduli, unsupported curves) — the client did not authenticate.
    throw invalidClient();
  }
  if (typ !== undefined && !ACCEPTED_TYPES.has(typ.toLowerCase())) throw invalidClient();
  if (!audienceAccepted(payload.aud, context)) throw invalidClient();
  const nowSeconds = Math.floor(context.now().getTime() / 1000);
  if (payload.exp! > nowSeconds + MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_TOLERANCE_SECONDS) throw invalidClient();
  if (typeof payload.jti !== "string" || payload.jti.length > MAX_ASSERTION_JTI_LENGTH) throw invalidClient();
  const replayKey = `private_key_jwt\u0000${clientId}\u0000${payload.jti}`;
  const seen = context.replayGuard
    ? await context.replayGuard.remember(replayKey, new Date((payload.exp! + CLOCK_TOLERANCE_SECONDS) * 1000))
    : context.replayCache.remember(replayKey, payload.exp! + CLOCK_TOLERANCE_SECONDS, nowSeconds);
  if (seen === "full") throw new TesseraError("temporarily_unavailable", "too many client assertions in flight; retry shortly");
  if (seen === "replayed") throw invalidClient();
  return record;
}

/** rfc7523bis §4: our issuer alone; the legacy audiences too while their transition lasts. */
function audienceAccepted(aud: unknown, context: ClientAuthenticationContext): boolean {
  const single = typeof aud === "string" ? aud : Array.isArray(aud) && aud.length === 1 ? aud[0] : undefined;
  if (typeof single !== "string") return false;
  if (single === context.assertionAudience) return true;
  const legacy = context.legacyAssertionAudiences;
  return legacy !== undefined && context.now().getTime() < legacy.until.getTime() && legacy.audiences.includes(single);
}
