/**
 * Token exchange of an external workload's JWT (RFC 8693 §2.1 with `subject_token_type`
 * `…:token-type:jwt` or `…:token-type:id_token`): the subject token is verified and matched
 * like a jwt-bearer assertion, and the answer is the matched client's access token. An actor
 * token has no meaning here: the issued token is the client's own, not issued on behalf of it.
 */
import { TesseraError } from "../../errors.js";
import { issueOnFederatedAssertion, type FederatedIssuanceOptions } from "./federated-issuance.js";
import { TOKEN_EXCHANGE_GRANT_TYPE, TOKEN_TYPE, type SubjectTokenHandler } from "./token-exchange-grant.js";

export function federatedSubjectTokenHandler(options: FederatedIssuanceOptions): SubjectTokenHandler {
  return {
    subjectTokenTypes: [TOKEN_TYPE.jwt, TOKEN_TYPE.idToken],
    async handle(context, exchange) {
      if (exchange.actorToken !== undefined) {
        throw new TesseraError("invalid_request", "actor_token is not accepted with an external subject token");
      }
      return issueOnFederatedAssertion(options, context, {
        assertion: exchange.subjectToken,
        grantType: TOKEN_EXCHANGE_GRANT_TYPE,
        way: "token_exchange",
      });
    },
  };
}
