/**
 * Federation policy matching: subjects exact or by glob (`*` any run, anchored, nothing else
 * special), claim conditions over dotted paths whose keys may hold dots, non-string claims
 * compared as their JSON text, and the allowlist of claims a template may copy.
 */
import { describe, expect, it } from "vitest";
import { claimAt, conditionHolds, copiedClaims, globMatches, matchingPolicies, policyMatches } from "../../src/federation/federation-policy-match.js";
import { federationPolicy } from "./fake-federation.js";

const K8S_CLAIMS = {
  iss: "https://kubernetes.default.svc.cluster.local",
  sub: "system:serviceaccount:payments:api",
  aud: ["tessera"],
  "kubernetes.io": { namespace: "payments", serviceaccount: { name: "api", uid: "1d2c" }, pod: { name: "api-7c9" } },
};

const GITHUB_CLAIMS = {
  sub: "repo:acme/payments:ref:refs/heads/main",
  repository: "acme/payments",
  repository_owner_id: 4242,
  job_workflow_ref: "acme/payments/.github/workflows/deploy.yml@refs/heads/main",
  ref_protected: true,
};

describe("globMatches", () => {
  it.each([
    ["system:serviceaccount:payments:*", "system:serviceaccount:payments:api", true],
    ["system:serviceaccount:payments:*", "system:serviceaccount:billing:api", false],
    ["repo:acme/*:ref:refs/heads/main", "repo:acme/payments:ref:refs/heads/main", true],
    ["repo:acme/*:ref:refs/heads/main", "repo:acme/payments:ref:refs/heads/main-evil", false],
    ["repo:acme/*:ref:refs/heads/main", "repo:evil/x:ref:refs/heads/main:repo:acme/y:ref:refs/heads/main", false],
    ["spiffe://prod.acme/ns/payments/*", "spiffe://prod.acme/ns/payments/sa/api", true],
    ["exact", "exact", true],
    ["exact", "exactly", false],
    ["a*b*c", "abc", true],
    ["a*b*c", "aXbYc", true],
    ["a*b*c", "acb", false],
    ["ab*ba", "aba", false],
    ["*", "", true],
    // Regular-expression syntax is literal.
    ["repo:.*", "repo:anything", false],
    ["repo:.*", "repo:.x", true],
    ["(a|b)", "a", false],
    ["[x]", "[x]", true],
  ] as const)("%s against %s is %s", (pattern, value, expected) => {
    expect(globMatches(pattern, value)).toBe(expected);
  });
});

describe("claimAt", () => {
  it("follows dotted paths, trying the longest key first (kubernetes.io.namespace)", () => {
    expect(claimAt(K8S_CLAIMS, "kubernetes.io.namespace")).toBe("payments");
    expect(claimAt(K8S_CLAIMS, "kubernetes.io.serviceaccount.name")).toBe("api");
    expect(claimAt({ a: { b: 1 }, "a.b": 2 }, "a.b")).toBe(2);
    expect(claimAt({ "a.b": { c: 3 }, a: { b: { c: 4 } } }, "a.b.c")).toBe(3);
  });

  it("falls back to shorter keys when the longest one leads nowhere", () => {
    expect(claimAt({ "a.b": {}, a: { b: { c: 4 } } }, "a.b.c")).toBe(4);
  });

  it("finds nothing through arrays, scalars or inherited properties", () => {
    expect(claimAt(K8S_CLAIMS, "aud.0")).toBeUndefined();
    expect(claimAt(K8S_CLAIMS, "sub.length")).toBeUndefined();
    expect(claimAt(K8S_CLAIMS, "constructor")).toBeUndefined();
    expect(claimAt(K8S_CLAIMS, "__proto__")).toBeUndefined();
  });
});

describe("claim conditions", () => {
  it("equals, glob and one_of over nested and non-string claims", () => {
    expect(conditionHolds({ claim: "kubernetes.io.namespace", operator: "equals", values: ["payments"] }, K8S_CLAIMS)).toBe(true);
    expect(conditionHolds({ claim: "kubernetes.io.namespace", operator: "equals", values: ["billing"] }, K8S_CLAIMS)).toBe(false);
    expect(conditionHolds({ claim: "repository_owner_id", operator: "equals", values: ["4242"] }, GITHUB_CLAIMS)).toBe(true);
    expect(conditionHolds({ claim: "ref_protected", operator: "equals", values: ["true"] }, GITHUB_CLAIMS)).toBe(true);
    expect(conditionHolds({ claim: "job_workflow_ref", operator: "glob", values: ["acme/payments/.github/workflows/*@refs/heads/main"] }, GITHUB_CLAIMS)).toBe(true);
    expect(conditionHolds({ claim: "repository", operator: "one_of", values: ["acme/billing", "acme/payments"] }, GITHUB_CLAIMS)).toBe(true);
    expect(conditionHolds({ claim: "repository", operator: "one_of", values: ["acme/billing"] }, GITHUB_CLAIMS)).toBe(false);
  });

  it("never holds for an absent claim, an object or an array", () => {
    expect(conditionHolds({ claim: "environment", operator: "glob", values: ["*"] }, GITHUB_CLAIMS)).toBe(false);
    expect(conditionHolds({ claim: "kubernetes.io", operator: "glob", values: ["*"] }, K8S_CLAIMS)).toBe(false);
    expect(conditionHolds({ claim: "aud", operator: "glob", values: ["*"] }, K8S_CLAIMS)).toBe(false);
  });

  it("a policy matches when its subject and every condition hold", () => {
    const policy = federationPolicy({
      id: "p1",
      issuer: K8S_CLAIMS.iss,
      clientId: "payments-api",
      subject: "system:serviceaccount:payments:*",
      claimConditions: [{ claim: "kubernetes.io.namespace", operator: "equals", values: ["payments"] }],
    });
    expect(policyMatches(policy, K8S_CLAIMS.sub, K8S_CLAIMS)).toBe(true);
    expect(policyMatches(policy, "system:serviceaccount:billing:api", K8S_CLAIMS)).toBe(false);
    expect(policyMatches(policy, K8S_CLAIMS.sub, { ...K8S_CLAIMS, "kubernetes.io": { namespace: "billing" } })).toBe(false);
    expect(matchingPolicies([policy, { ...policy, id: "p2", subject: "other" }], K8S_CLAIMS.sub, K8S_CLAIMS).map((p) => p.id)).toEqual(["p1"]);
  });
});

describe("copiedClaims", () => {
  it("offers only the allowlisted claims, by the path the template names", () => {
    const policy = federationPolicy({ id: "p", issuer: "i", clientId: "c", copiedClaims: ["sub", "kubernetes.io.namespace", "absent"] });
    expect(copiedClaims(policy, K8S_CLAIMS)).toEqual({ sub: K8S_CLAIMS.sub, "kubernetes.io.namespace": "payments" });
  });
});
