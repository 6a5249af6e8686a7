/**
 * Which federation policies a verified assertion satisfies: its `sub` against the policy's
 * subject (exact, or a glob where `*` is any run of characters), then every claim condition.
 * Globs are matched by hand, anchored at both ends, never compiled into a regular expression:
 * a pattern holds no syntax but `*`, so nothing in it can be injected.
 */
import type { ClaimCondition, FederationPolicy } from "./federation.js";

/** Whether `value` matches `pattern`, where `*` matches any run (empty too) and all else is literal. */
export function globMatches(pattern: string, value: string): boolean {
  if (!pattern.includes("*")) return pattern === value;
  const parts = pattern.split("*");
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (value.length < first.length + last.length) return false;
  if (!value.startsWith(first) || !value.endsWith(last)) return false;
  // The middle parts in order, each as early as possible, between the anchored ends: leftmost
  // matching of the literal runs finds a match whenever one exists.
  let position = first.length;
  const end = value.length - last.length;
  for (let index = 1; index < parts.length - 1; index++) {
    const part = parts[index]!;
    if (part.length === 0) continue;
    const found = value.indexOf(part, position);
    if (found < 0 || found + part.length > end) return false;
    position = found + part.length;
  }
  return true;
}

/**
 * The claim at a dotted path, where keys may themselves hold dots: at each level the longest
 * run of segments naming a key wins, so `kubernetes.io.namespace` finds
 * `{"kubernetes.io": {"namespace": …}}` before a `kubernetes` key.
 */
export function claimAt(claims: unknown, path: string): unknown {
  return lookup(claims, path.split("."), 0);
}

function lookup(node: unknown, segments: readonly string[], from: number): unknown {
  if (from === segments.length) return node;
  if (typeof node !== "object" || node === null || Array.isArray(node)) return undefined;
  const object = node as Record<string, unknown>;
  for (let to = segments.length; to > from; to--) {
    const key = segments.slice(from, to).join(".");
    if (Object.hasOwn(object, key)) {
      const found = lookup(object[key], segments, to);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/**
 * A claim value as text for comparison: strings as they are, numbers and booleans as their JSON
 * text (GitHub's `repository_owner_id` is a string, other issuers send numbers); objects,
 * arrays and null never match.
 */
export function claimText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return JSON.stringify(value);
  return undefined;
}

export function conditionHolds(condition: ClaimCondition, claims: unknown): boolean {
  const text = claimText(claimAt(claims, condition.claim));
  if (text === undefined) return false;
  switch (condition.operator) {
    case "equals":
      return condition.values.length > 0 && text === condition.values[0];
    case "glob":
      return condition.values.length > 0 && globMatches(condition.values[0]!, text);
    case "one_of":
      return condition.values.includes(text);
  }
}

/** Whether the policy's subject and every one of its conditions hold for these claims. */
export function policyMatches(policy: FederationPolicy, subject: string, claims: unknown): boolean {
  if (!globMatches(policy.subject, subject)) return false;
  return policy.claimConditions.every((condition) => conditionHolds(condition, claims));
}

/** The policies of this issuer that the assertion satisfies, in the directory's order. */
export function matchingPolicies(policies: readonly FederationPolicy[], subject: string, claims: unknown): FederationPolicy[] {
  return policies.filter((policy) => policyMatches(policy, subject, claims));
}

/**
 * The incoming claims a policy lets the client's claims template copy, by the path the template
 * names (`{{assertion.<path>}}`); claims not on the policy's list are never offered.
 */
export function copiedClaims(policy: FederationPolicy, claims: unknown): Record<string, unknown> {
  const copied: Record<string, unknown> = {};
  for (const path of policy.copiedClaims) {
    const value = claimAt(claims, path);
    if (value !== undefined) copied[path] = value;
  }
  return copied;
}
