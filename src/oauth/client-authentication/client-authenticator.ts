/**
 * Client authentication (RFC 6749 §2.3). Each method is one module registered in a map, so a
 * new method never edits the others. Every failure is the same invalid_client with the same
 * words — unknown client, wrong secret, inactive or expired client — so a caller cannot tell
 * which client ids exist.
 */
import { CLIENT_ID_PATTERN, type ClientRecord } from "../../clients/client.js";
import { TesseraError } from "../../errors.js";
import type { ClientAuthenticationMethod, PresentedClientCredentials } from "./presented-credentials.js";
import { authenticateWithSecret } from "./client-secret-methods.js";
import { UNKNOWN_ORIGIN, type RequestOrigin } from "../abuse-limits.js";
import type { ClientAuthenticationContext, ClientAuthenticationHandler } from "./context.js";
import { invalidClient } from "./invalid-client.js";
import { authenticateWithJwtBearerAssertion, authenticateWithSpiffeJwt } from "./federated-assertion-methods.js";

export class ClientAuthenticator {
  private readonly handlers: ReadonlyMap<ClientAuthenticationMethod, ClientAuthenticationHandler>;

  constructor(
    private readonly context: ClientAuthenticationContext,
    handlers: ReadonlyMap<ClientAuthenticationMethod, ClientAuthenticationHandler> = DEFAULT_METHODS,
  ) {
    this.handlers = handlers;
  }

  get methods(): ClientAuthenticationMethod[] {
    return [...this.handlers.keys()];
  }

  /** Returns the authenticated, active client or throws invalid_client. */
  async authenticate(credentials: PresentedClientCredentials | undefined, origin: RequestOrigin = UNKNOWN_ORIGIN): Promise<ClientRecord> {
    const { limits } = this.context;
    // An id outside the id alphabet names no client. It is refused before anything is looked up
    // and never becomes a key of any map (a caller picks its length); only the address's budget
    // counts it.
    const presentedId = credentials?.clientId;
    const clientId = presentedId === undefined || CLIENT_ID_PATTERN.test(presentedId) ? presentedId : undefined;
    limits?.beforeAuthentication(origin, clientId);
    let record: ClientRecord;
    try {
      if (!credentials) throw new TesseraError("invalid_client", "client authentication is required");
      if (presentedId !== clientId) throw invalidClient();
      const handler = this.handlers.get(credentials.method);
      if (!handler) throw invalidClient();
      record = await handler(credentials, this.context);
      if (!isUsable(record, this.context.now())) throw invalidClient();
    } catch (error) {
      if (error instanceof TesseraError && error.code === "invalid_client") limits?.authenticationFailed(origin, clientId);
      throw error;
    }
    limits?.afterAuthentication(origin, record.client.id, record.client.rateLimitPerSecond);
    return record;
  }
}

/** Whether a client may authenticate and its tokens may verify right now. */
export function isUsable(record: ClientRecord, now: Date): boolean {
  const { client } = record;
  return client.status === "active" && (client.expireTime === null || client.expireTime.getTime() > now.getTime());
}

const DEFAULT_METHODS: ReadonlyMap<ClientAuthenticationMethod, ClientAuthenticationHandler> = new Map([
  ["client_secret_basic", authenticateWithSecret],
  ["client_secret_post", authenticateWithSecret],
  // The client's own assertion, or a trusted issuer's for a client with a federation policy.
  ["private_key_jwt", authenticateWithJwtBearerAssertion],
  ["spiffe_jwt", authenticateWithSpiffeJwt],
]);
