/**
 * The bookkeeping behind auditing refused admin calls: one row per (source, actor, reason) and
 * window, the refusals in between counted into the next row or a summary, a cap on rows per
 * window across keys, and keys held in memory bounded in number and bytes.
 */
import { describe, expect, it } from "vitest";
import { DenialAudit, DenialThrottle, type DenialThrottleLimits } from "../../src/audit/denial-throttle.js";
import type { AuditEntry } from "../../src/audit/audit-event.js";

const LIMITS: DenialThrottleLimits = { windowMs: 60_000, maxRowsPerWindow: 100, maxKeys: 1_000, maxKeyBytes: 64 * 1024 };
const refusal = (source: string, reason = "a bearer access token is required") => ({ source, actor: "", reason, rpc: "ListClients" });

describe("DenialThrottle", () => {
  it("writes the first refusal of a key, and counts the rest of its window into the key's next row", () => {
    const throttle = new DenialThrottle(LIMITS);
    const verdicts = Array.from({ length: 500 }, (_, i) => throttle.admit(refusal("10.0.0.1"), 1_000 + i));
    expect(verdicts.filter((verdict) => verdict.write)).toEqual([{ write: true, suppressed: 0 }]);
    expect(throttle.admit(refusal("10.0.0.1"), 1_000 + LIMITS.windowMs)).toEqual({ write: true, suppressed: 499 });
  });

  it("keeps sources, actors and reasons apart", () => {
    const throttle = new DenialThrottle(LIMITS);
    expect(throttle.admit(refusal("10.0.0.1"), 0).write).toBe(true);
    expect(throttle.admit(refusal("10.0.0.2"), 0).write).toBe(true);
    expect(throttle.admit(refusal("10.0.0.1", "the access token is not active"), 0).write).toBe(true);
    expect(throttle.admit({ ...refusal("10.0.0.1"), actor: "some-client" }, 0).write).toBe(true);
    expect(throttle.admit(refusal("10.0.0.1"), 1).write).toBe(false);
  });

  it("hands over the count of a window that ended with no later refusal, once, and forgets the key", () => {
    const throttle = new DenialThrottle(LIMITS);
    for (let i = 0; i < 10; i++) throttle.admit(refusal("10.0.0.1"), i);
    expect(throttle.takeEnded(LIMITS.windowMs - 1)).toEqual([]);
    expect(throttle.takeEnded(LIMITS.windowMs)).toEqual([{ source: "10.0.0.1", actor: "", reason: "a bearer access token is required", count: 9, since: 0 }]);
    expect(throttle.takeEnded(LIMITS.windowMs * 2)).toEqual([]);
    expect(throttle.held).toEqual({ keys: 0, bytes: 0 });
  });

  it("writes at most maxRowsPerWindow new keys per window; the others are counted under one overflow summary", () => {
    const throttle = new DenialThrottle(LIMITS);
    const written = Array.from({ length: 5_000 }, (_, i) => throttle.admit(refusal(`2001:db8::${i.toString(16)}`), i % 1_000)).filter((verdict) => verdict.write);
    expect(written).toHaveLength(LIMITS.maxRowsPerWindow);
    const ended = throttle.takeEnded(2 * LIMITS.windowMs);
    expect(ended.filter((summary) => summary.source === "*")).toEqual([expect.objectContaining({ count: 5_000 - LIMITS.maxRowsPerWindow })]);
  });

  it("holds keys bounded in number and in bytes, whatever the sources", () => {
    const throttle = new DenialThrottle({ ...LIMITS, maxRowsPerWindow: 1_000_000 });
    for (let i = 0; i < 3_000; i++) throttle.admit(refusal(`${i}-${"x".repeat(1_000)}`), i);
    expect(throttle.held.bytes).toBeLessThanOrEqual(LIMITS.maxKeyBytes);
    const small = new DenialThrottle({ ...LIMITS, maxRowsPerWindow: 1_000_000, maxKeyBytes: 1024 * 1024 });
    for (let i = 0; i < 3_000; i++) small.admit(refusal(`10.1.${i >> 8}.${i & 255}`), i);
    expect(small.held.keys).toBe(LIMITS.maxKeys);
  });
});

describe("DenialAudit", () => {
  it("writes rows with the refused call's rpc, reason and source, and the counted refusals as suppressed", async () => {
    const rows: AuditEntry[] = [];
    let now = 0;
    const audit = new DenialAudit({ audit: { record: async (entry) => void rows.push(entry) }, now: () => now, limits: LIMITS });
    for (let i = 0; i < 500; i++) await audit.record({ ...refusal("10.0.0.1"), requestId: `r${i}` });
    expect(rows).toEqual([
      { actor: "", action: "admin.denied", outcome: "denied", requestId: "r0", details: { rpc: "ListClients", reason: "a bearer access token is required", source: "10.0.0.1" } },
    ]);
    now = LIMITS.windowMs;
    await audit.flush();
    expect(rows[1]).toMatchObject({ action: "admin.denied", outcome: "denied", details: { source: "10.0.0.1", suppressed: 499 } });
  });
});
