/**
 * tessera.v1.TokenService: IssueToken is POST /oauth/token for RPC callers, through the same
 * OAuth core. The message's typed fields become the same parameters, by their RFC names.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { TokenEndpoint } from "../../oauth/token/token-endpoint.js";
import { NO_PARAMETERS, type ClientCertificate, type TokenParameters, type TokenRequest } from "../../oauth/token/token-request.js";
import { clientCertificateKey, originKey } from "./context.js";
import { assertionMethod, certificateCredentials, type PresentedClientCredentials } from "../../oauth/client-authentication/presented-credentials.js";
import { IMPERSONATE_PARAMETER } from "../../oauth/grants/delegated-subject-token.js";
import { GrantType, TokenService, type IssueTokenRequest } from "../../gen/tessera/v1/token_service_pb.js";

const GRANT_TYPES: Readonly<Record<GrantType, string>> = {
  [GrantType.UNSPECIFIED]: "client_credentials",
  [GrantType.CLIENT_CREDENTIALS]: "client_credentials",
  [GrantType.REFRESH_TOKEN]: "refresh_token",
  [GrantType.TOKEN_EXCHANGE]: "urn:ietf:params:oauth:grant-type:token-exchange",
  [GrantType.JWT_BEARER]: "urn:ietf:params:oauth:grant-type:jwt-bearer",
};

/** The message's single-valued parameters and their names in a form body (RFC 6749, 8693, 7523). */
const PARAMETER_FIELDS = [
  ["refresh_token", "refreshToken"],
  ["subject_token", "subjectToken"],
  ["subject_token_type", "subjectTokenType"],
  ["actor_token", "actorToken"],
  ["actor_token_type", "actorTokenType"],
  ["requested_token_type", "requestedTokenType"],
  ["assertion", "assertion"],
] as const satisfies readonly (readonly [string, keyof IssueTokenRequest])[];

/**
 * The set fields as parameters; proto3 cannot tell empty from unset, and empty counts as absent
 * (RFC 6749 §3.1). A `client_id` without credentials is a parameter too, as in a form body: the
 * jwt-bearer and token-exchange grants read it to name one of several matching clients.
 */
function parametersOf(request: IssueTokenRequest, credentials: PresentedClientCredentials | undefined): TokenParameters {
  let parameters: Map<string, string[]> | undefined;
  for (const [name, field] of PARAMETER_FIELDS) {
    const value = request[field];
    if (value) (parameters ??= new Map()).set(name, [value]);
  }
  // A certificate presentation (client-certificate.ts) is a client_id too, which a grant with
  // optional client authentication reads when the client is not a certificate client.
  if ((!credentials || credentials.method === "tls_client_auth") && request.clientId) (parameters ??= new Map()).set("client_id", [request.clientId]);
  // A flag in the message, `impersonate=true` in a form (delegated-subject-token.ts).
  if (request.impersonate) (parameters ??= new Map()).set(IMPERSONATE_PARAMETER, ["true"]);
  return parameters ?? NO_PARAMETERS;
}

function credentialsOf(request: IssueTokenRequest, certificate: ClientCertificate | undefined): PresentedClientCredentials | undefined {
  const clientId = request.clientId || undefined;
  switch (request.credential.case) {
    case "clientSecret":
      // The secret travels in the message body, as with client_secret_post.
      return { method: "client_secret_post", clientId, clientSecret: request.credential.value };
    case "clientAssertion":
      return {
        method: assertionMethod(request.credential.value.assertionType || undefined),
        clientId,
        clientAssertion: request.credential.value.assertion,
        clientAssertionType: request.credential.value.assertionType || undefined,
      };
    default:
      // A client_id and no credential: RFC 8705 §2 certificate authentication when a certificate came with the call.
      return certificateCredentials(clientId, certificate);
  }
}

export function tokenServiceImpl(options: { endpoint: TokenEndpoint; issuer: string }): ServiceImpl<typeof TokenService> {
  // The public URL of the RPC, as the issuer names it, for proofs of possession (RFC 9449 §4.3 htu).
  const url = `${options.issuer.replace(/\/+$/, "")}/${TokenService.typeName}/${TokenService.method.issueToken.name}`;
  return {
    async issueToken(request, context) {
      const clientCertificate = context.values.get(clientCertificateKey);
      const credentials = credentialsOf(request, clientCertificate);
      const tokenRequest: TokenRequest = {
        // An unknown enum number has no grant: let the core answer unsupported_grant_type.
        grantType: GRANT_TYPES[request.grantType] ?? `unknown:${request.grantType}`,
        credentials,
        parameters: parametersOf(request, credentials),
        scopes: request.scopes.length > 0 ? request.scopes : undefined,
        audiences: request.audiences,
        origin: context.values.get(originKey),
        proof: {
          method: "POST",
          url,
          dpop: context.requestHeader.get("dpop") ?? undefined,
          clientCertificate,
        },
      };
      const answer = await options.endpoint.issue(tokenRequest);
      return {
        accessToken: answer.accessToken,
        tokenType: answer.tokenType,
        expiresIn: BigInt(answer.expiresIn),
        scopes: [...answer.scopes],
        audiences: [...answer.audiences],
        expireTime: timestampFromDate(answer.expireTime),
        refreshToken: answer.refreshToken ?? "",
        issuedTokenType: answer.issuedTokenType ?? "",
        extra: answer.extra,
      };
    },
  };
}
