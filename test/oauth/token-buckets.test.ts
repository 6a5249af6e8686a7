/**
 * The rate buckets behind the abuse limits: a bucket refills at its rate up to its burst, and a
 * clock stepped backwards neither refills it nor starves it afterwards.
 */
import { describe, expect, it } from "vitest";
import { TokenBuckets } from "../../src/oauth/abuse-limits.js";

describe("TokenBuckets", () => {
  const setUp = () => {
    const clock = { ms: 1_000_000 };
    const buckets = new TokenBuckets({ maxEntries: 10, maxBytes: 10_000, now: () => clock.ms });
    return { clock, buckets };
  };

  it("allows the burst, then one more per 1/rate seconds", () => {
    const { clock, buckets } = setUp();
    expect([buckets.take("a", 1, 2), buckets.take("a", 1, 2)]).toEqual([0, 0]);
    expect(buckets.take("a", 1, 2)).toBeGreaterThan(0);
    clock.ms += 1_000;
    expect(buckets.take("a", 1, 2)).toBe(0);
  });

  it("refills normally after the clock steps back an hour", () => {
    const { clock, buckets } = setUp();
    buckets.take("a", 1, 1);
    clock.ms -= 3_600_000;
    expect(buckets.take("a", 1, 1)).toBeGreaterThan(0);
    clock.ms += 1_000;
    expect(buckets.take("a", 1, 1)).toBe(0);
  });
});
