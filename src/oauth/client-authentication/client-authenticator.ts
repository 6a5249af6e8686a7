/**
 * Client authentication (RFC 6749 §2.3). Each method is one module registered in a map, so a
 * new method never edits the others. Every failure is the same invalid_client with the same
 * words — unknown client, wrong secret, inactive or expired client — so a caller cannot tell
 * which client ids exist.
 */
import { CLIENT_ID_PATTERN, type ClientRecord, type TokenEndpointAuthMethod } from "../../clients/client.js";
import { TesseraError } from "../../errors.js";
import type { ClientAuthenticationMethod, PresentedClientCredentials } from "./presented-credentials.js";
import { authenticateWithSecret } from "./client-secret-methods.js";
import { UNKNOWN_ORIGIN, type RequestOrigin } from "../abuse-limits.js";
import type { ClientAuthenticationContext, ClientAuthenticationHandler } from "./context.js";
import { invalidClient } from "./invalid-client.js";
import { authenticateWithJwtBearerAssertion, authenticateWithSpiffeJwt } from "./federated-assertion-methods.js";
import { authenticateWithTlsClientAuth } from "./tls-client-auth.js";
import { authenticateWithSelfSignedCertificate } from "./self-signed-tls-client-auth.js";

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

  /**
   * The authenticated, active client, or invalid_client. Synchronous when the method answers at
   * once (the secret methods): the token pipeline then needs no await, and
   * no turn of the microtask queue, for it. A refusal is always a rejected promise.
   */
  authenticate(credentials: PresentedClientCredentials | undefined, origin: RequestOrigin = UNKNOWN_ORIGIN): ClientRecord | Promise<ClientRecord> {
    const { limits } = this.context;
    // An id outside the id alphabet names no client. It is refused before anything is looked up
    // and never becomes a key of any map (a caller picks its length); only the address's budget
    // counts it.
    const presentedId = credentials?.clientId;
    const clientId = presentedId === undefined || CLIENT_ID_PATTERN.test(presentedId) ? presentedId : undefined;
    let method: ClientAuthenticationMethod;
    let answer: ClientRecord | Promise<ClientRecord>;
    try {
      limits?.beforeAuthentication(origin, clientId);
      try {
        if (!credentials) throw new TesseraError("invalid_client", "client authentication is required");
        if (presentedId !== clientId) throw invalidClient();
        method = this.methodOf(credentials);
        const handler = this.handlers.get(method);
        if (!handler) throw invalidClient();
        answer = handler(credentials, this.context);
      } catch (error) {
        this.countFailure(error, origin, clientId);
        throw error;
      }
      if (!(answer instanceof Promise)) return this.accepted(answer, method, origin, clientId);
    } catch (error) {
      return Promise.reject(error);
    }
    return answer.then(
      (record) => this.accepted(record, method, origin, clientId),
      (error: unknown) => {
        this.countFailure(error, origin, clientId);
        throw error;
      },
    );
  }

  /** The record a method vouched for, if it may authenticate now and by that method; the limits are told. */
  private accepted(record: ClientRecord, method: ClientAuthenticationMethod, origin: RequestOrigin, clientId: string | undefined): ClientRecord {
    if (!isUsable(record, this.context.now()) || !mayAuthenticateWith(record.client.tokenEndpointAuthMethod, method)) {
      this.context.limits?.authenticationFailed(origin, clientId);
      throw invalidClient();
    }
    this.context.limits?.afterAuthentication(origin, record.client.id, record.client.rateLimitPerSecond);
    return record;
  }

  private countFailure(error: unknown, origin: RequestOrigin, clientId: string | undefined): void {
    if (error instanceof TesseraError && error.code === "invalid_client") this.context.limits?.authenticationFailed(origin, clientId);
  }

  /**
   * Whether presented credentials are client authentication at all, for grants where it is
   * optional: a bare `client_id` that came with a certificate is, only when it names a client
   * registered for a certificate method (RFC 8705 §2); for any other client it stays what it is
   * without a certificate, a parameter naming a client.
   */
  presentsAuthentication(credentials: PresentedClientCredentials): boolean {
    if (credentials.method !== "tls_client_auth") return true;
    const registered = credentials.clientId === undefined ? undefined : this.context.registry.find(credentials.clientId)?.client.tokenEndpointAuthMethod;
    return registered === "tls_client_auth" || registered === "self_signed_tls_client_auth";
  }

  /** A certificate presentation is checked by the certificate method the client registered. */
  private methodOf(credentials: PresentedClientCredentials): ClientAuthenticationMethod {
    if (credentials.method !== "tls_client_auth" || credentials.clientId === undefined) return credentials.method;
    const registered = this.context.registry.find(credentials.clientId)?.client.tokenEndpointAuthMethod;
    return registered === "self_signed_tls_client_auth" ? registered : "tls_client_auth";
  }
}

/**
 * The methods a client's registered `token_endpoint_auth_method` allows (RFC 7591 §2): that
 * one, the two secret methods standing for each other (libraries pick Basic or the body on
 * their own). Unset, what every client could do before the field existed: the secret either way
 * or a jwt-bearer assertion (its own or a trusted issuer's), never a certificate, which a
 * client must register for with its DN, SAN or key.
 */
export function mayAuthenticateWith(registered: TokenEndpointAuthMethod | null, method: ClientAuthenticationMethod): boolean {
  const secret = method === "client_secret_basic" || method === "client_secret_post";
  switch (registered) {
    case null:
      return secret || method === "private_key_jwt" || method === "spiffe_jwt";
    case "client_secret_basic":
    case "client_secret_post":
      return secret;
    default:
      return method === registered;
  }
}

/** Whether a client may authenticate and its tokens may verify right now. */
export function isUsable(record: ClientRecord, now: Date): boolean {
  const { client } = record;
  return client.status === "active" && (client.expireTime === null || client.expireTime.getTime() > now.getTime());
}

const DEFAULT_METHODS: ReadonlyMap<ClientAuthenticationMethod, ClientAuthenticationHandler> = new Map<ClientAuthenticationMethod, ClientAuthenticationHandler>([
  ["client_secret_basic", authenticateWithSecret],
  ["client_secret_post", authenticateWithSecret],
  // The client's own assertion, or a trusted issuer's for a client with a federation policy.
  ["private_key_jwt", authenticateWithJwtBearerAssertion],
  ["spiffe_jwt", authenticateWithSpiffeJwt],
  // RFC 8705 §2: a client_id and a certificate, chain-verified with a registered name, or with a registered key.
  ["tls_client_auth", authenticateWithTlsClientAuth],
  ["self_signed_tls_client_auth", authenticateWithSelfSignedCertificate],
]);
