/**
 * The token exchange grant (RFC 8693 §2): one grant, dispatching on `subject_token_type` to a
 * subject-token handler. An external workload's JWT (`…:token-type:jwt` / `id_token`) is
 * handled by federation; a Tessera access token (`…:token-type:access_token`) by delegation.
 * A new kind of subject token is one more handler, never a second grant.
 */
import { TesseraError } from "../../errors.js";
import type { Grant, GrantContext } from "../token/grant.js";
import { parameterValue } from "../token/token-request.js";
import type { TokenResponse } from "../token/token-response.js";

export const TOKEN_EXCHANGE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange";

/** RFC 8693 §3 token type identifiers. */
export const TOKEN_TYPE = {
  accessToken: "urn:ietf:params:oauth:token-type:access_token",
  refreshToken: "urn:ietf:params:oauth:token-type:refresh_token",
  idToken: "urn:ietf:params:oauth:token-type:id_token",
  jwt: "urn:ietf:params:oauth:token-type:jwt",
} as const;

/** The exchange's own parameters (RFC 8693 §2.1), read and checked once for every handler. */
export interface TokenExchangeParameters {
  readonly subjectToken: string;
  readonly subjectTokenType: string;
  readonly actorToken: string | undefined;
  readonly actorTokenType: string | undefined;
  /** Always the access token type: nothing else is issued (anything else is refused up front). */
  readonly requestedTokenType: string;
}

export interface SubjectTokenHandler {
  /** The `subject_token_type` values this handler takes. */
  readonly subjectTokenTypes: readonly string[];
  /**
   * Validates the subject (and actor) token and issues through `context.issueAccessToken`. The
   * grant authenticates the client only when credentials were presented (`context.client`);
   * a handler that needs a client refuses with `invalid_client` when there is none.
   * The answer's `issuedTokenType` is set by the grant.
   */
  handle(context: GrantContext<"optional">, exchange: TokenExchangeParameters): Promise<TokenResponse>;
}

/** The most bytes of a subject or actor token read: far above any JWT a workload carries. */
export const MAX_EXCHANGED_TOKEN_LENGTH = 16_384;

export function tokenExchangeGrant(options: { handlers: readonly SubjectTokenHandler[] }) {
  const handlers = new Map<string, SubjectTokenHandler>();
  for (const handler of options.handlers) {
    for (const type of handler.subjectTokenTypes) {
      if (handlers.has(type)) throw new Error(`subject_token_type ${type} has two handlers`);
      handlers.set(type, handler);
    }
  }
  return {
    grantType: TOKEN_EXCHANGE_GRANT_TYPE,
    // `impersonate` is delegation's explicit request for a token without `act` (delegated-subject-token.ts).
    parameters: ["subject_token", "subject_token_type", "actor_token", "actor_token_type", "requested_token_type", "impersonate"],
    clientAuthentication: "optional",
    async handle(context) {
      const exchange = exchangeParameters(context);
      const handler = handlers.get(exchange.subjectTokenType);
      if (!handler) throw new TesseraError("invalid_request", "subject_token_type is not supported");
      const response = await handler.handle(context, exchange);
      return { ...response, issuedTokenType: TOKEN_TYPE.accessToken };
    },
  } as const satisfies Grant<"optional">;
}

function exchangeParameters(context: GrantContext): TokenExchangeParameters {
  const { parameters } = context.request;
  const subjectToken = parameterValue(parameters, "subject_token");
  const subjectTokenType = parameterValue(parameters, "subject_token_type");
  const actorToken = parameterValue(parameters, "actor_token");
  const actorTokenType = parameterValue(parameters, "actor_token_type");
  const requestedTokenType = parameterValue(parameters, "requested_token_type") ?? TOKEN_TYPE.accessToken;
  if (subjectToken === undefined) throw new TesseraError("invalid_request", "subject_token is required");
  if (subjectTokenType === undefined) throw new TesseraError("invalid_request", "subject_token_type is required");
  if (subjectToken.length > MAX_EXCHANGED_TOKEN_LENGTH) throw new TesseraError("invalid_request", "subject_token is too long");
  if (actorToken !== undefined && actorToken.length > MAX_EXCHANGED_TOKEN_LENGTH) throw new TesseraError("invalid_request", "actor_token is too long");
  // RFC 8693 §2.1: actor_token_type is required with actor_token and must not come without it.
  if ((actorToken === undefined) !== (actorTokenType === undefined)) {
    throw new TesseraError("invalid_request", "actor_token and actor_token_type go together");
  }
  if (requestedTokenType !== TOKEN_TYPE.accessToken) {
    throw new TesseraError("invalid_request", "requested_token_type: only access tokens are issued");
  }
  return { subjectToken, subjectTokenType, actorToken, actorTokenType, requestedTokenType };
}
