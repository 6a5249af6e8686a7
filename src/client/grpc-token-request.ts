/**
 * One token request over Tessera's RPC API: `tessera.v1.TokenService.IssueToken`, the same OAuth
 * core as `POST /oauth/token`. A refusal carries the OAuth error as a `tessera.v1.OAuthError`
 * detail, so it surfaces with the same `error` code as over HTTP.
 */
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { OAuthErrorSchema } from "../gen/tessera/v1/oauth_error_pb.js";
import { GrantType, type TokenService } from "../gen/tessera/v1/token_service_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { IssueTokenRequestSchema } from "../gen/tessera/v1/token_service_pb.js";
import { JWT_BEARER_ASSERTION_TYPE } from "./client-authentication.js";
import { TokenError } from "./token-error.js";
import { JWT_BEARER_GRANT_TYPE, type TokenRequester } from "./token-request.js";

/** Connect codes of a failure on the server's side, worth another attempt. */
const SERVER_SIDE_CODES: ReadonlySet<Code> = new Set([Code.Internal, Code.Unknown, Code.DataLoss]);

/** Connect codes that mean the call never got a considered answer. */
const UNREACHABLE_CODES: ReadonlySet<Code> = new Set([Code.Unavailable, Code.DeadlineExceeded, Code.Canceled, Code.Aborted]);

function credentialOf(request: Parameters<TokenRequester>[0]): MessageInitShape<typeof IssueTokenRequestSchema>["credential"] {
  const { credential } = request;
  switch (credential.method) {
    case "client_secret_basic":
    case "client_secret_post":
      return { case: "clientSecret", value: credential.clientSecret };
    case "private_key_jwt":
      return { case: "clientAssertion", value: { assertionType: JWT_BEARER_ASSERTION_TYPE, assertion: credential.clientAssertion } };
    case "none":
      return undefined;
  }
}

export function grpcTokenRequester(options: {
  readonly client: Client<typeof TokenService>;
  readonly timeoutMs: number;
  /** The RPC's public URL as Tessera names it (its issuer + the method path), for DPoP's `htu`. */
  readonly issueTokenUrl?: string;
}): TokenRequester {
  return async (request) => {
    const message: MessageInitShape<typeof IssueTokenRequestSchema> = {
      grantType: request.grant.grantType === JWT_BEARER_GRANT_TYPE ? GrantType.JWT_BEARER : GrantType.CLIENT_CREDENTIALS,
      clientId: request.credential.clientId,
      scopes: [...request.parameters.scopes],
      audiences: [...request.parameters.audiences],
      assertion: request.grant.assertion ?? "",
    };
    const credential = credentialOf(request);
    if (credential) message.credential = credential;
    const { dpop } = request;
    const call = async (nonce: string | undefined) => {
      const headers = dpop ? { dpop: await dpop({ method: "POST", url: options.issueTokenUrl!, nonce }) } : undefined;
      return options.client.issueToken(message, { timeoutMs: options.timeoutMs, ...(headers ? { headers } : {}) });
    };
    try {
      // RFC 9449 §8: when the server asks for its nonce (in the error's metadata), one more proof carrying it.
      const response = await call(undefined).catch((error: unknown) => {
        const nonce = dpop ? ConnectError.from(error).metadata.get("dpop-nonce") : null;
        if (nonce && ConnectError.from(error).findDetails(OAuthErrorSchema)[0]?.error === "use_dpop_nonce") return call(nonce);
        throw error;
      });
      return {
        accessToken: response.accessToken,
        tokenType: response.tokenType,
        expiresIn: response.expiresIn > 0n ? Number(response.expiresIn) : undefined,
        scopes: response.scopes,
        response: {
          access_token: response.accessToken,
          token_type: response.tokenType,
          expires_in: Number(response.expiresIn),
          scope: response.scopes.join(" "),
          audiences: response.audiences,
          ...response.extra,
        },
      };
    } catch (error) {
      const connectError = ConnectError.from(error);
      const detail = connectError.findDetails(OAuthErrorSchema)[0];
      if (detail?.error) {
        const description = detail.errorDescription || undefined;
        throw new TokenError(detail.error, `${detail.error}${description ? `: ${description}` : ""}`, { reason: "refused", errorDescription: description, cause: error });
      }
      if (UNREACHABLE_CODES.has(connectError.code)) {
        throw new TokenError("temporarily_unavailable", `cannot reach the token service: ${connectError.rawMessage}`, { reason: "unreachable", cause: error });
      }
      const code = connectError.code === Code.ResourceExhausted ? "too_many_requests" : SERVER_SIDE_CODES.has(connectError.code) ? "server_error" : "invalid_request";
      throw new TokenError(code, `the token service answered ${Code[connectError.code]}: ${connectError.rawMessage}`, {
        reason: "unexpected_answer",
        cause: error,
      });
    }
  };
}
