/**
 * self_signed_tls_client_auth (RFC 8705 §2.2): the client sends its `client_id` and no secret
 * over a connection with a client certificate — any, not chain-verified: the TLS handshake
 * proved the client holds its private key — whose public key is one the client registered in
 * its JWK Set (§2.2.2), inline or at its `jwks_uri`. Names in the certificate are not looked at.
 */
import { X509Certificate, createPublicKey, type KeyObject } from "node:crypto";
import type { Client, ClientRecord } from "../../clients/client.js";
import { usableAssertionKeys } from "../../clients/client-keys.js";
import type { PresentedClientCredentials } from "./presented-credentials.js";
import type { ClientAuthenticationContext } from "./context.js";
import { invalidClient } from "./invalid-client.js";

export async function authenticateWithSelfSignedCertificate(
  credentials: PresentedClientCredentials,
  context: ClientAuthenticationContext,
): Promise<ClientRecord> {
  const { clientId, clientCertificate } = credentials;
  if (!clientId || !clientCertificate) throw invalidClient();
  const record = context.registry.find(clientId);
  if (!record || record.client.tokenEndpointAuthMethod !== "self_signed_tls_client_auth") throw invalidClient();
  let presented: KeyObject;
  try {
    presented = new X509Certificate(clientCertificate.der).publicKey;
  } catch {
    throw invalidClient();
  }
  if (!(await registersKey(record.client, presented, context))) throw invalidClient();
  return record;
}

async function registersKey(client: Client, presented: KeyObject, context: ClientAuthenticationContext): Promise<boolean> {
  if (client.jwks !== null) {
    return usableAssertionKeys(client.jwks).some((jwk) => {
      try {
        return createPublicKey({ key: jwk as never, format: "jwk" }).equals(presented);
      } catch {
        return false;
      }
    });
  }
  if (client.jwksUri !== null && context.clientKeysByUrl) {
    // The published set is asked for the one key of the certificate's type (no kid to name it).
    const alg = signatureAlgorithmOf(presented);
    if (alg === undefined) return false;
    try {
      return (await context.clientKeysByUrl.clientKeyFor(client, { alg })).equals(presented);
    } catch {
      return false;
    }
  }
  return false;
}

/** An algorithm the key's type signs with, to pick the key of that type from a published set. */
function signatureAlgorithmOf(key: KeyObject): string | undefined {
  switch (key.asymmetricKeyType) {
    case "rsa":
      return "RS256";
    case "ed25519":
      return "EdDSA";
    case "ec": {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      return curve === "prime256v1" ? "ES256" : curve === "secp384r1" ? "ES384" : curve === "secp521r1" ? "ES512" : undefined;
    }
    default:
      return undefined;
  }
}
