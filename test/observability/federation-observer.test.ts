/**
 * Federated outcomes as metrics and audit: issuances and refusals counted by issuer (an issuer
 * nobody configured is "unknown"), way in and reason; each issuance queued for the audit trail
 * with issuer, external subject and the matched policy.
 */
import { describe, expect, it } from "vitest";
import type { AuditEntry } from "../../src/audit/audit-event.js";
import { federationObserver } from "../../src/observability/federation-observer.js";
import { Metrics } from "../../src/observability/metrics.js";

function metrics() {
  return new Metrics({ clients: () => 0, revocations: () => 0, signingKeys: () => 0, syncLagSeconds: () => 0, databaseUp: () => true });
}

describe("federationObserver", () => {
  it("counts issuances and refusals with bounded labels and audits issuances", async () => {
    const registry = metrics();
    const entries: AuditEntry[] = [];
    const observer = federationObserver({ metrics: registry, audit: { enqueue: (entry) => entries.push(entry) } });
    observer.issued({ way: "jwt_bearer", issuer: "https://k8s.example", subject: "system:serviceaccount:payments:api", policyId: "p1", clientId: "payments-api" });
    observer.refused("jwt_bearer", undefined, "unknown_issuer");
    observer.refused("token_exchange", "https://k8s.example", "audience");
    const text = (await registry.render()).body;
    expect(text).toContain('tessera_federated_issued_total{issuer="https://k8s.example",way="jwt_bearer"} 1');
    expect(text).toContain('tessera_federated_refused_total{issuer="unknown",way="jwt_bearer",reason="unknown_issuer"} 1');
    expect(text).toContain('tessera_federated_refused_total{issuer="https://k8s.example",way="token_exchange",reason="audience"} 1');
    expect(entries).toEqual([
      {
        actor: "payments-api",
        action: "federation.token_issued",
        targetClientId: "payments-api",
        outcome: "success",
        details: { way: "jwt_bearer", issuer: "https://k8s.example", subject: "system:serviceaccount:payments:api", federationPolicyId: "p1" },
      },
    ]);
  });

  it("folds issuers beyond the label bound into other", async () => {
    const registry = metrics();
    for (let n = 0; n < 520; n++) registry.federatedRefusal(`https://issuer-${n}.example`, "jwt_bearer", "signature");
    const lines = (await registry.render()).body.split("\n").filter((line) => line.startsWith("tessera_federated_refused_total{"));
    expect(lines.length).toBe(501);
    expect(lines).toContain('tessera_federated_refused_total{issuer="other",way="jwt_bearer",reason="signature"} 20');
  });
});
