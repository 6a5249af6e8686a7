/**
 * Typed per-call values the interceptors establish for the services.
 */
import { createContextKey } from "@connectrpc/connect";
import type { Actor } from "../../audit/audit-event.js";
import { UNKNOWN_ORIGIN, type RequestOrigin } from "../../oauth/abuse-limits.js";
import type { ActiveAccessToken } from "../../oauth/access-token-verifier.js";
import type { ClientCertificate } from "../../oauth/token/token-request.js";

export const originKey = createContextKey<RequestOrigin>(UNKNOWN_ORIGIN, { description: "peer address of the call" });

/** The caller's verified TLS client certificate, when the call came over TLS with one. */
export const clientCertificateKey = createContextKey<ClientCertificate | undefined>(undefined, {
  description: "verified TLS client certificate of the call",
});

export const requestIdKey = createContextKey<string>("", { description: "request id of the call" });

/** The verified bearer token of an admin call; set by the admin authorization interceptor. */
export const callerTokenKey = createContextKey<ActiveAccessToken | undefined>(undefined, {
  description: "verified bearer token of the caller",
});

export function actorOf(values: { get<T>(key: { id: symbol; defaultValue: T }): T }): Actor {
  return { clientId: values.get(callerTokenKey)?.clientId ?? "", requestId: values.get(requestIdKey) };
}
