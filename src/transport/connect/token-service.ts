/**
 * tessera.v1.TokenService: IssueToken is POST /oauth/token for RPC callers, through the same
 * OAuth core.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { TokenEndpoint } from "../../oauth/token-endpoint.js";
import type { Metrics } from "../../observability/metrics.js";
import { originKey } from "./context.js";
import type { PresentedClientCredentials, TokenRequest } from "../../oauth/token-request.js";
import { GrantType, TokenService, type IssueTokenRequest } from "../../gen/tessera/v1/token_service_pb.js";

const GRANT_TYPES: Readonly<Record<GrantType, string>> = {
  [GrantType.UNSPECIFIED]: "client_credentials",
  [GrantType.CLIENT_CREDENTIALS]: "client_credentials",
  [GrantType.REFRESH_TOKEN]: "refresh_token",
};

function credentialsOf(request: IssueTokenRequest): PresentedClientCredentials | undefined {
  const clientId = request.clientId || undefined;
  switch (request.credential.case) {
    case "clientSecret":
      // The secret travels in the message body, as with client_secret_post.
      return { method: "client_secret_post", clientId, clientSecret: request.credential.value };
    case "clientAssertion":
      return {
        method: "private_key_jwt",
        clientId,
        clientAssertion: request.credential.value.assertion,
        clientAssertionType: request.credential.value.assertionType || undefined,
      };
    default:
      return undefined;
  }
}

export function tokenServiceImpl(endpoint: TokenEndpoint, metrics: Metrics): ServiceImpl<typeof TokenService> {
  return {
    async issueToken(request, context) {
      const tokenRequest: TokenRequest = {
        // An unknown enum number has no grant: let the core answer unsupported_grant_type.
        grantType: GRANT_TYPES[request.grantType] ?? `unknown:${request.grantType}`,
        credentials: credentialsOf(request),
        scopes: request.scopes.length > 0 ? request.scopes : undefined,
        audiences: request.audiences,
        refreshToken: request.refreshToken || undefined,
        origin: context.values.get(originKey),
      };
      const answer = await endpoint.issue(tokenRequest);
      metrics.tokenIssued(answer.clientId, answer.alg, answer.grantType);
      return {
        accessToken: answer.accessToken,
        tokenType: answer.tokenType,
        expiresIn: BigInt(answer.expiresIn),
        scopes: [...answer.scopes],
        audiences: [...answer.audiences],
        expireTime: timestampFromDate(answer.expireTime),
        refreshToken: answer.refreshToken ?? "",
      };
    },
  };
}
