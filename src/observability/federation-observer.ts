/**
 * What federation tells the outside of each outcome: a metric for every issuance and refusal,
 * and an audit entry for every issuance (issuer, external subject, matched policy), queued off
 * the request path.
 */
import type { AuditQueue } from "../audit/audit-queue.js";
import type { FederationObserver } from "../oauth/federated-clients.js";
import type { Metrics } from "./metrics.js";

export function federationObserver(options: {
  metrics: Pick<Metrics, "federatedIssuance" | "federatedRefusal">;
  audit: Pick<AuditQueue, "enqueue">;
}): FederationObserver {
  return {
    issued(event) {
      options.metrics.federatedIssuance(event.issuer, event.way);
      options.audit.enqueue({
        actor: event.clientId,
        action: event.way === "jwt_bearer" || event.way === "token_exchange" ? "federation.token_issued" : "federation.client_authenticated",
        targetClientId: event.clientId,
        outcome: "success",
        details: { way: event.way, issuer: event.issuer, subject: event.subject, federationPolicyId: event.policyId },
      });
    },
    refused(way, issuer, reason) {
      options.metrics.federatedRefusal(issuer, way, reason);
    },
  };
}
