/**
 * Client authentication by a token an external issuer signed, with any grant:
 * - a jwt-bearer client assertion (RFC 7523 §2.2) whose `iss` is a trusted issuer rather than
 *   the client: the client's federation policies decide (as Entra's federated credentials);
 * - a SPIFFE JWT-SVID (`client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-spiffe`,
 *   draft-ietf-oauth-spiffe-client-auth §3.1), whose SPIFFE ID (`sub`) a policy associates with
 *   the client; `client_id` is optional there, as in the draft's examples.
 * A jwt-bearer assertion from anyone else is the client's own: private_key_jwt.
 */
import { decodeJwt } from "jose";
import type { ClientRecord } from "../../clients/client.js";
import { TesseraError } from "../../errors.js";
import type { ClientAuthenticationContext, FederatedAssertionKind } from "./context.js";
import { invalidClient } from "./invalid-client.js";
import type { PresentedClientCredentials } from "./presented-credentials.js";
import { authenticateWithPrivateKeyJwt, JWT_BEARER_ASSERTION_TYPE } from "./private-key-jwt.js";

export const JWT_SPIFFE_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-spiffe";

/** private_key_jwt, or a federated assertion when a trusted issuer signed it. */
export async function authenticateWithJwtBearerAssertion(
  credentials: PresentedClientCredentials,
  context: ClientAuthenticationContext,
): Promise<ClientRecord> {
  const { clientAssertion: assertion, clientAssertionType: type } = credentials;
  if (type === JWT_BEARER_ASSERTION_TYPE && assertion && context.federation) {
    let iss: unknown;
    try {
      iss = decodeJwt(assertion).iss;
    } catch {
      iss = undefined;
    }
    // A client's own assertion has iss = its client id, which is never an issuer URL.
    if (typeof iss === "string" && iss !== credentials.clientId && context.federation.isTrustedIssuer(iss)) {
      return authenticateFederated(credentials, context, "jwt_bearer");
    }
  }
  return authenticateWithPrivateKeyJwt(credentials, context);
}

/** spiffe_jwt: a JWT-SVID as client credential. */
export async function authenticateWithSpiffeJwt(credentials: PresentedClientCredentials, context: ClientAuthenticationContext): Promise<ClientRecord> {
  if (credentials.clientAssertionType !== JWT_SPIFFE_ASSERTION_TYPE) {
    throw new TesseraError("invalid_request", `client_assertion_type must be ${JWT_SPIFFE_ASSERTION_TYPE}`);
  }
  return authenticateFederated(credentials, context, "spiffe");
}

async function authenticateFederated(
  credentials: PresentedClientCredentials,
  context: ClientAuthenticationContext,
  kind: FederatedAssertionKind,
): Promise<ClientRecord> {
  const { clientAssertion: assertion } = credentials;
  if (!assertion) throw new TesseraError("invalid_request", "client_assertion is required");
  if (!context.federation) throw invalidClient();
  try {
    return await context.federation.authenticate(assertion, kind, credentials.clientId);
  } catch (error) {
    // The check that failed is said (it concerns the token the caller holds); the code is the
    // one of client authentication (RFC 6749 §5.2).
    if (error instanceof TesseraError && (error.code === "invalid_grant" || error.code === "invalid_client")) {
      throw new TesseraError("invalid_client", `client authentication failed: ${error.description}`);
    }
    throw error;
  }
}
