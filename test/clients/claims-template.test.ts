/**
 * The claims template: static values, `{{metadata.path}}` from the client's trusted metadata,
 * and `{{assertion.<claim>}}` from a federated assertion's allowlisted claims only.
 */
import { describe, expect, it } from "vitest";
import { renderCustomClaims } from "../../src/clients/claims-template.js";

const TEMPLATE = {
  team: "payments",
  tier: "{{metadata.tier}}",
  workload: "{{assertion.sub}}",
  namespace: "{{ assertion.kubernetes.io.namespace }}",
  sub: "{{assertion.sub}}",
};

describe("renderCustomClaims", () => {
  it("renders assertion references from the claims it is given, and never a reserved claim", () => {
    const claims = renderCustomClaims(TEMPLATE, { tier: "gold" }, { sub: "system:serviceaccount:payments:api", "kubernetes.io.namespace": "payments" });
    expect(claims).toEqual({ team: "payments", tier: "gold", workload: "system:serviceaccount:payments:api", namespace: "payments" });
  });

  it("leaves assertion references out when the token was not issued on an assertion, or the claim was not allowlisted", () => {
    expect(renderCustomClaims(TEMPLATE, { tier: "gold" })).toEqual({ team: "payments", tier: "gold" });
    expect(renderCustomClaims(TEMPLATE, {}, { sub: "x" })).toEqual({ team: "payments", workload: "x" });
  });

  it("does not look up inherited properties", () => {
    expect(renderCustomClaims({ a: "{{assertion.constructor}}", b: "{{assertion.__proto__}}" }, {}, {})).toEqual({});
  });
});
