/**
 * The signing-key lifecycle as a pure plan: given the keys and the time, what should change.
 * Kept free of I/O so the whole lifecycle — a year of it — can be tested with a fake clock.
 *
 *   next ──(publication lead elapsed)──▶ active ──(successor activated)──▶ retired ──(last token expired)──▶ deleted
 *
 * A key is published (in /keys) for at least `publicationLeadSeconds` before it signs, which is
 * longer than verifiers may cache /keys, so a verifier with a cached JWKS never meets an unknown
 * kid. A retired key stays published until every token it signed has expired.
 */
import type { SigningAlgorithm } from "./algorithms.js";
import type { StoredSigningKey } from "./signing-key.js";

export interface KeyPolicy {
  /** How long a key signs before its successor takes over. */
  readonly rotationIntervalSeconds: number;
  /** How long a new key is published before it signs; > the JWKS max-age. */
  readonly publicationLeadSeconds: number;
  /** How long a retired or revoked key is kept: the longest token lifetime plus clock skew. */
  readonly retentionSeconds: number;
}

export type KeyAction =
  | { readonly kind: "create"; readonly alg: SigningAlgorithm; readonly state: "next" | "active" }
  | { readonly kind: "activate"; readonly kid: string; readonly retireKid: string | undefined }
  | { readonly kind: "delete"; readonly kid: string };

const seconds = (date: Date | null) => (date ? date.getTime() / 1000 : 0);

export function planKeyMaintenance(input: {
  keys: readonly StoredSigningKey[];
  algorithms: readonly SigningAlgorithm[];
  now: Date;
  policy: KeyPolicy;
}): KeyAction[] {
  const { keys, policy } = input;
  const now = input.now.getTime() / 1000;
  const actions: KeyAction[] = [];
  for (const alg of input.algorithms) {
    const mine = keys.filter((key) => key.alg === alg);
    const active = newest(mine.filter((key) => key.state === "active"), "activateTime");
    const next = newest(mine.filter((key) => key.state === "next"), "createTime");
    if (!active) {
      // Nothing signs: take the waiting key now, or make one that signs at once (first start,
      // or after an emergency revocation, when waiting would mean no tokens at all).
      actions.push(next ? { kind: "activate", kid: next.kid, retireKid: undefined } : { kind: "create", alg, state: "active" });
      continue;
    }
    if (next) {
      if (now >= seconds(next.createTime) + policy.publicationLeadSeconds) {
        actions.push({ kind: "activate", kid: next.kid, retireKid: active.kid });
      }
    } else if (now >= seconds(active.activateTime) + policy.rotationIntervalSeconds - policy.publicationLeadSeconds) {
      actions.push({ kind: "create", alg, state: "next" });
    }
  }
  for (const key of keys) {
    if ((key.state === "retired" || key.state === "revoked") && key.removeTime && now >= seconds(key.removeTime)) {
      actions.push({ kind: "delete", kid: key.kid });
    }
  }
  return actions;
}

function newest(keys: readonly StoredSigningKey[], by: "activateTime" | "createTime"): StoredSigningKey | undefined {
  return [...keys].sort((a, b) => seconds(b[by]) - seconds(a[by]) || b.kid.localeCompare(a.kid))[0];
}
