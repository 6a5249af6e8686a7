/**
 * client_secret_basic and client_secret_post (RFC 6749 §2.3.1): the same check once the
 * transport has taken the id and secret out of the header or the body.
 */
import { verifyClientSecret } from "../../clients/client-secret.js";
import type { ClientRecord } from "../../clients/client.js";
import type { PresentedClientCredentials } from "./presented-credentials.js";
import type { ClientAuthenticationContext } from "./context.js";
import { invalidClient } from "./invalid-client.js";

export function authenticateWithSecret(credentials: PresentedClientCredentials, context: ClientAuthenticationContext): ClientRecord {
  const { clientId, clientSecret } = credentials;
  if (!clientId || clientSecret === undefined) throw invalidClient();
  const record = context.registry.find(clientId);
  // Hash and compare even for an unknown client, so both failures take the same time.
  let matches = verifyClientSecret(clientSecret, record?.secrets ?? []);
  // Basic credentials sent without the form-encoding of RFC 6749 §2.3.1 (curl -u, many
  // libraries): a secret holding "+" or "%" was changed by decoding, so its raw form gets one
  // more hash. Either form still has to match a stored hash in full.
  if (!matches && credentials.rawClientSecret !== undefined) matches = verifyClientSecret(credentials.rawClientSecret, record?.secrets ?? []);
  if (!record || !matches) throw invalidClient();
  return record;
}
