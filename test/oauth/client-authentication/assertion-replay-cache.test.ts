import { describe, expect, it } from "vitest";
import { AssertionReplayCache } from "../../../src/oauth/client-authentication/assertion-replay-cache.js";

describe("AssertionReplayCache", () => {
  it("refuses a replay while the assertion lives and accepts its key again after", () => {
    const cache = new AssertionReplayCache();
    expect(cache.remember("a", 110, 100)).toBe("fresh");
    expect(cache.remember("a", 110, 109)).toBe("replayed");
    expect(cache.remember("a", 120, 110)).toBe("fresh");
  });

  it("when full, refuses new assertions until one expires, then takes them in its place", () => {
    const cache = new AssertionReplayCache({ maxEntries: 3 });
    expect(cache.remember("a", 150, 100)).toBe("fresh");
    expect(cache.remember("b", 160, 100)).toBe("fresh");
    // Inserted last but expiring first: the cache must not wait for the first-inserted one.
    expect(cache.remember("c", 120, 100)).toBe("fresh");
    expect(cache.remember("d", 200, 110)).toBe("full");
    expect(cache.remember("d", 200, 119)).toBe("full");
    expect(cache.remember("a", 200, 119)).toBe("replayed");
    expect(cache.remember("d", 200, 120)).toBe("fresh");
    expect(cache.size).toBe(3);
    expect(cache.remember("e", 200, 149)).toBe("full");
    expect(cache.remember("c", 200, 149)).toBe("full");
    expect(cache.remember("e", 200, 150)).toBe("fresh");
    expect(cache.remember("b", 200, 150)).toBe("replayed");
  });

  it("refuses in constant time when full of live assertions, instead of scanning them all per call", () => {
    const cache = new AssertionReplayCache();
    for (let n = 0; n < 100_000; n++) cache.remember(`dpop\u0000key\u0000${n}`, 1_000, 100);
    const started = performance.now();
    for (let n = 0; n < 2_000; n++) expect(cache.remember(`dpop\u0000key\u0000new-${n}`, 1_000, 100)).toBe("full");
    // Scanning the 100,000 entries on each call takes 2,000 calls over a second; without the scan, a few ms.
    expect(performance.now() - started).toBeLessThan(250);
  });
});
