/**
 * The reconcile plan of `tessera apply`, in process: ordering, field-by-field changes, prune
 * scope and the references that must hold after the plan.
 */
import { describe, expect, it } from "vitest";
import { planChanges, renderPlan, type DesiredResource, type LiveResource, type PlanOptions } from "../../src/cli/config/config-plan.js";

const OPTIONS: PlanOptions = {
  kinds: ["TrustedIssuer", "Client", "FederationPolicy"],
  prune: false,
  pruneKinds: { Client: "deactivate" },
};

function desired(kind: string, id: string, fields: DesiredResource["fields"], references: DesiredResource["references"] = []): DesiredResource {
  return { kind, id, fields, references, source: { file: "config.yaml", document: 1 } };
}

function live(kind: string, id: string, fields: LiveResource["fields"], extra: Partial<LiveResource> = {}): LiveResource {
  return { kind, id, fields, etag: `W/"${id.length}"`, managed: true, protected: false, pruned: false, references: [], ...extra };
}

describe("planChanges", () => {
  it("creates in dependency order whatever order the documents come in", () => {
    const plan = planChanges(
      [
        desired("FederationPolicy", "p", { subject: "s" }, [{ kind: "TrustedIssuer", id: "https://i", field: "issuer" }]),
        desired("Client", "b", {}),
        desired("TrustedIssuer", "https://i", {}),
        desired("Client", "a", {}),
      ],
      [],
      OPTIONS,
    );
    expect(plan.problems).toEqual([]);
    expect(plan.actions.map((action) => `${action.type} ${action.kind} ${action.id}`)).toEqual([
      "create TrustedIssuer https://i",
      "create Client a",
      "create Client b",
      "create FederationPolicy p",
    ]);
  });

  it("updates only the fields that differ, with the etag read, and nothing when all match", () => {
    const current = live("Client", "a", { name: "A", scopes: ["x"], trustedMetadata: { team: "t", tier: 1 } });
    const same = planChanges([desired("Client", "a", { name: "A", scopes: ["x"], trustedMetadata: { tier: 1, team: "t" } })], [current], OPTIONS);
    expect(same.actions).toEqual([]);
    expect(renderPlan(same.actions)).toBe("No changes: the server matches the files.");
    const changed = planChanges([desired("Client", "a", { name: "A", scopes: ["x", "y"], trustedMetadata: { team: "t", tier: 1 } })], [current], OPTIONS);
    expect(changed.actions).toEqual([
      { type: "update", kind: "Client", id: "a", etag: 'W/"1"', changes: [{ field: "scopes", before: ["x"], after: ["x", "y"] }], source: { file: "config.yaml", document: 1 } },
    ]);
    expect(renderPlan(changed.actions)).toContain('scopes: ["x"] → ["x","y"]');
  });

  it("prunes only with --prune, only managed and unprotected resources, in reverse dependency order, after creates and updates", () => {
    const resources = [
      live("TrustedIssuer", "https://old", {}),
      live("Client", "old", {}),
      live("Client", "gone-already", {}, { pruned: true }),
      live("Client", "by-hand", {}, { managed: false }),
      live("Client", "admin", {}, { protected: true }),
      live("FederationPolicy", "old-policy", {}, { references: [{ kind: "TrustedIssuer", id: "https://old", field: "issuer" }] }),
    ];
    const wanted = [desired("Client", "new", {})];
    expect(planChanges(wanted, resources, OPTIONS).actions.map((action) => action.type)).toEqual(["create"]);
    const plan = planChanges(wanted, resources, { ...OPTIONS, prune: true });
    expect(plan.problems).toEqual([]);
    expect(plan.actions.map((action) => `${action.type} ${action.kind} ${action.id}${action.type === "prune" ? ` ${action.how}` : ""}`)).toEqual([
      "create Client new",
      "prune FederationPolicy old-policy delete",
      "prune Client old deactivate",
      "prune TrustedIssuer https://old delete",
    ]);
  });

  it("refuses a reference to something neither the files nor the server define, or that the plan deletes", () => {
    const policy = desired("FederationPolicy", "p", {}, [{ kind: "TrustedIssuer", id: "https://missing", field: "issuer" }]);
    expect(planChanges([policy], [], OPTIONS).problems).toEqual([
      "config.yaml document 1: spec.issuer names TrustedIssuer https://missing, which neither the files nor the server define",
    ]);
    const unnamed = desired("FederationPolicy", "q", {}, [{ kind: "Client", id: "", field: "clientId" }]);
    expect(planChanges([unnamed], [], OPTIONS).problems).toEqual(["config.yaml document 1: spec.clientId is required"]);
    const unmanagedPolicy = live("FederationPolicy", "by-hand", {}, { managed: false, references: [{ kind: "TrustedIssuer", id: "https://old", field: "issuer" }] });
    const blocked = planChanges([], [live("TrustedIssuer", "https://old", {}), unmanagedPolicy], { ...OPTIONS, prune: true });
    expect(blocked.problems).toEqual(["TrustedIssuer https://old cannot be pruned: FederationPolicy by-hand (not managed by these files) still names it in issuer"]);
  });

  it("refuses two documents for the same resource, naming both", () => {
    const first = desired("Client", "a", {});
    const second = { ...desired("Client", "a", {}), source: { file: "other.yaml", document: 3 } };
    expect(planChanges([first, second], [], OPTIONS).problems).toEqual(["other.yaml document 3: Client a is also defined at config.yaml document 1"]);
  });
});
