/**
 * The JWT bearer grant (RFC 7523 §2.1): a workload trades a token its platform issued
 * (Kubernetes, a CI system, SPIFFE, a cloud) for a Tessera token, with no client secret. The
 * matching federation policy names the client; client authentication is optional (§3.1), and
 * when a client authenticated, one of its own policies must match. No refresh token: the
 * workload presents a fresh assertion instead (RFC 7521 §4.1 leaves it to the server).
 */
import { TesseraError } from "../../errors.js";
import { MAX_FEDERATED_ASSERTION_LENGTH } from "../../federation/federated-assertion.js";
import type { Grant } from "../token/grant.js";
import { parameterValue } from "../token/token-request.js";
import { issueOnFederatedAssertion, type FederatedIssuanceOptions } from "./federated-issuance.js";

export const JWT_BEARER_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer";

export function jwtBearerGrant(options: FederatedIssuanceOptions) {
  return {
    grantType: JWT_BEARER_GRANT_TYPE,
    parameters: ["assertion", "client_id"],
    clientAuthentication: "optional",
    async handle(context) {
      const assertion = parameterValue(context.request.parameters, "assertion");
      if (assertion === undefined) throw new TesseraError("invalid_request", "assertion is required");
      if (assertion.length > MAX_FEDERATED_ASSERTION_LENGTH) throw new TesseraError("invalid_grant", "the assertion is too long");
      return issueOnFederatedAssertion(options, context, { assertion, grantType: JWT_BEARER_GRANT_TYPE, way: "jwt_bearer" });
    },
  } as const satisfies Grant<"optional">;
}
