/**
 * private_key_jwt assertions (RFC 7523 §2.2) signed with jose, and posting them to /oauth/token,
 * for tests of clients that authenticate with their own keys.
 */
import { generateKeyPairSync, randomUUID, type KeyObject } from "node:crypto";
import { SignJWT } from "jose";
import type { JsonObject } from "../../src/clients/client.js";

export const JWT_BEARER_CLIENT_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

export interface AssertionKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  /** The public JWK with its kid, as a client publishes it. */
  readonly publicJwk: JsonObject;
}

export function assertionKey(kid: string): AssertionKey {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { kid, privateKey, publicJwk: { ...(publicKey.export({ format: "jwk" }) as JsonObject), kid, use: "sig", alg: "ES256" } };
}

export async function signClientAssertion(options: { key: AssertionKey; clientId: string; audience: string; lifetimeSeconds?: number }): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "ES256", kid: options.key.kid, typ: "JWT" })
    .setIssuer(options.clientId)
    .setSubject(options.clientId)
    .setAudience(options.audience)
    .setJti(randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(now + (options.lifetimeSeconds ?? 60))
    .sign(options.key.privateKey);
}

/** client_credentials at `baseUrl`/oauth/token, authenticated by the assertion. */
export async function tokenWithAssertion(baseUrl: string, clientAssertion: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${baseUrl}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_assertion_type: JWT_BEARER_CLIENT_ASSERTION, client_assertion: clientAssertion }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
