/**
 * private_key_jwt (RFC 7523 §2.2, §3; OIDC Core §9): the client signs a short-lived JWT with a
 * key it registered. We check the signature against the client's registered JWKS, iss = sub =
 * client_id, aud = our issuer or token endpoint, exp (bounded), and that the jti is new.
 */
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from "jose";
import type { Client, ClientRecord } from "../../clients/client.js";
import { ASSERTION_ALGORITHMS, usableAssertionKeys } from "../../clients/client-keys.js";
import { TesseraError } from "../../errors.js";
import type { PresentedClientCredentials } from "../token-request.js";
import type { ClientAuthenticationContext } from "./client-authenticator.js";
import { invalidClient } from "./invalid-client.js";

export const JWT_BEARER_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** The algorithms a client may sign its assertions with (published in the metadata). */
export { ASSERTION_ALGORITHMS };

/** Assertions are meant to be minted per request; a long-lived one is refused. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 600;
const CLOCK_TOLERANCE_SECONDS = 30;

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
  const keySet = record && keySetOf(record.client);
  if (!record || !keySet) throw invalidClient();

  let payload;
  try {
    ({ payload } = await jwtVerify(assertion, keySet, {
      algorithms: [...ASSERTION_ALGORITHMS],
      issuer: clientId,
      subject: clientId,
      audience: [...context.assertionAudiences],
      requiredClaims: ["exp", "jti"],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate: context.now(),
    }));
  } catch {
    // Whatever the cause — bad signature, wrong claims, or a key jose will not use (its
    // TypeErrors for weak RSA moduli, unsupported curves) — the client did not authenticate.
    throw invalidClient();
  }
  const nowSeconds = Math.floor(context.now().getTime() / 1000);
  if (payload.exp! > nowSeconds + MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_TOLERANCE_SECONDS) throw invalidClient();
  const seen = context.replayCache.remember(`${clientId}\u0000${payload.jti!}`, payload.exp! + CLOCK_TOLERANCE_SECONDS, nowSeconds);
  if (seen === "full") throw new TesseraError("temporarily_unavailable", "too many client assertions in flight; retry shortly");
  if (seen === "replayed") throw invalidClient();
  return record;
}
