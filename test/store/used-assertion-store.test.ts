/**
 * Used assertions in storage, on the embedded database and on PostgreSQL, behind the replay
 * guard: one insert-if-absent per first sighting, so of two replicas racing on one assertion
 * exactly one accepts it; expired records are taken over and purged.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AssertionReplayCache } from "../../src/oauth/client-authentication/assertion-replay-cache.js";
import { AssertionReplayGuard } from "../../src/oauth/client-authentication/assertion-replay-guard.js";
import { TesseraError } from "../../src/errors.js";
import type { Database } from "../../src/store/database.js";
import { PrismaUsedAssertionRepository } from "../../src/store/used-assertion-store.js";
import { DATABASE_BACKENDS } from "../support/databases.js";

const NOW = new Date("2026-12-03T12:00:00Z");
const LATER = new Date(NOW.getTime() + 60_000);

describe.each(DATABASE_BACKENDS)("used assertions on $name", (backend) => {
  let database: Database;
  let discard: () => Promise<void>;
  let now: Date;

  beforeEach(async () => {
    ({ database, discard } = await backend.open());
    now = NOW;
  });
  afterEach(async () => discard());

  /** A replica: its own memory, the shared storage. */
  const replica = () => new AssertionReplayGuard({ repository: new PrismaUsedAssertionRepository(database), memory: new AssertionReplayCache(), now: () => now });

  it("accepts an assertion once across replicas and refuses it on every other", async () => {
    const [first, second] = [replica(), replica()];
    expect(await first.remember("private_key_jwt\u0000c\u0000jti-1", LATER)).toBe("fresh");
    expect(await first.remember("private_key_jwt\u0000c\u0000jti-1", LATER)).toBe("replayed");
    expect(await second.remember("private_key_jwt\u0000c\u0000jti-1", LATER)).toBe("replayed");
    expect(await second.remember("private_key_jwt\u0000c\u0000jti-2", LATER)).toBe("fresh");
  });

  it("lets exactly one of many replicas racing on one assertion accept it", async () => {
    const verdicts = await Promise.all(Array.from({ length: 8 }, () => replica().remember("race\u0000jti", LATER)));
    expect(verdicts.filter((verdict) => verdict === "fresh")).toHaveLength(1);
    expect(verdicts.filter((verdict) => verdict === "replayed")).toHaveLength(7);
  });

  it("records first sightings that arrive together in batches, each answered by its own key", async () => {
    const [first, second] = [replica(), replica()];
    // Some keys the second replica saw before: in the first replica's batch they are replays.
    for (let n = 0; n < 100; n += 10) expect(await second.remember(`batch\u0000${n}`, LATER)).toBe("fresh");
    const verdicts = await Promise.all(Array.from({ length: 100 }, (_, n) => first.remember(`batch\u0000${n}`, LATER)));
    verdicts.forEach((verdict, n) => expect(verdict, `key ${n}`).toBe(n % 10 === 0 ? "replayed" : "fresh"));
    // And each is now recorded for everyone.
    const third = replica();
    expect(await Promise.all([third.remember("batch\u00001", LATER), third.remember("batch\u000055", LATER), third.remember("batch\u0000new", LATER)])).toEqual([
      "replayed",
      "replayed",
      "fresh",
    ]);
  });

  it("waits a linger for more first sightings, so sightings of separate turns share one statement", async () => {
    const repository = new PrismaUsedAssertionRepository(database);
    const statements: number[] = [];
    const counted = {
      recordIfAbsent: (input: Parameters<typeof repository.recordIfAbsent>[0]) => (statements.push(1), repository.recordIfAbsent(input)),
      recordAllIfAbsent: (input: Parameters<typeof repository.recordAllIfAbsent>[0]) => (statements.push(input.entries.length), repository.recordAllIfAbsent(input)),
      purgeExpired: (at: Date) => repository.purgeExpired(at),
    };
    const guard = new AssertionReplayGuard({ repository: counted, memory: new AssertionReplayCache(), now: () => now, lingerMs: 200 });
    const verdicts: Promise<string>[] = [];
    for (let n = 0; n < 5; n++) {
      verdicts.push(guard.remember(`linger\u0000${n}`, LATER));
      await new Promise((resolve) => setImmediate(resolve));
    }
    verdicts.push(guard.remember("linger\u00000", LATER));
    expect(await Promise.all(verdicts)).toEqual(["fresh", "fresh", "fresh", "fresh", "fresh", "replayed"]);
    expect(statements).toEqual([5]);
    // Without a linger, the first sighting goes at once, alone.
    const eager = new AssertionReplayGuard({ repository: counted, memory: new AssertionReplayCache(), now: () => now, lingerMs: 0 });
    const first = eager.remember("eager\u00001", LATER);
    const second = eager.remember("eager\u00002", LATER);
    expect(await Promise.all([first, second, replica().remember("linger\u00003", LATER)])).toEqual(["fresh", "fresh", "replayed"]);
    expect(statements).toEqual([5, 1, 1]);
  });

  it("stores any jti, NUL included, in a fixed size", async () => {
    expect(await replica().remember(`c\u0000${"\u0000é😀".repeat(80)}`, LATER)).toBe("fresh");
    expect(await replica().remember(`c\u0000${"\u0000é😀".repeat(80)}`, LATER)).toBe("replayed");
  });

  it("takes over an expired record and purges expired ones", async () => {
    expect(await replica().remember("old", LATER)).toBe("fresh");
    now = new Date(LATER.getTime() + 1_000);
    const guard = replica();
    expect(await guard.remember("old", new Date(now.getTime() + 60_000))).toBe("fresh");
    expect(await replica().remember("gone-soon", new Date(now.getTime() + 1_000))).toBe("fresh");
    expect(await guard.purge(new Date(now.getTime() + 2_000))).toBe(1);
  });

  it("passes a full memory by while storage answers, which still refuses every replay", async () => {
    const memory = new AssertionReplayCache({ maxEntries: 2 });
    const guard = new AssertionReplayGuard({ repository: new PrismaUsedAssertionRepository(database), memory, now: () => now, lingerMs: 0 });
    expect(await guard.remember("m-1", LATER)).toBe("fresh");
    expect(await guard.remember("m-2", LATER)).toBe("fresh");
    expect(memory.remember("m-3", Math.ceil(LATER.getTime() / 1000), Math.floor(now.getTime() / 1000))).toBe("full");
    // Past the memory's bound: storage decides, both for new assertions and for replays.
    expect(await guard.remember("m-3", LATER)).toBe("fresh");
    expect(await guard.remember("m-3", LATER)).toBe("replayed");
    const together = await Promise.all([guard.remember("m-4", LATER), guard.remember("m-4", LATER), guard.remember("m-5", LATER)]);
    expect(together.filter((verdict) => verdict === "fresh")).toHaveLength(2);
    expect(together.filter((verdict) => verdict === "replayed")).toHaveLength(1);
    // A replay of one held in memory is refused there, as before.
    expect(await guard.remember("m-1", LATER)).toBe("replayed");
  });

  it("refuses a first sighting with a full memory while storage cannot vouch for it", async () => {
    const down = {
      recordIfAbsent: () => Promise.reject(new TesseraError("unavailable", "down")),
      recordAllIfAbsent: () => Promise.reject(new TesseraError("unavailable", "down")),
      purgeExpired: () => Promise.resolve(0),
    };
    const full = () => {
      const memory = new AssertionReplayCache({ maxEntries: 1 });
      memory.remember("held", Math.ceil(LATER.getTime() / 1000), Math.floor(now.getTime() / 1000));
      return memory;
    };
    expect(await new AssertionReplayGuard({ repository: down, memory: full(), now: () => now, lingerMs: 0 }).remember("new", LATER)).toBe("full");
    // Known to be down (the degraded window): storage is not even asked.
    const degraded = new AssertionReplayGuard({ repository: new PrismaUsedAssertionRepository(database), memory: full(), now: () => now, storageHealthy: () => false });
    expect(await degraded.remember("new", LATER)).toBe("full");
  });

  it("keeps the per-replica verdict when storage is unavailable", async () => {
    const guard = new AssertionReplayGuard({
      repository: {
        recordIfAbsent: () => Promise.reject(new TesseraError("unavailable", "down")),
        recordAllIfAbsent: () => Promise.reject(new TesseraError("unavailable", "down")),
        purgeExpired: () => Promise.resolve(0),
      },
      memory: new AssertionReplayCache(),
      now: () => now,
    });
    expect(await guard.remember("k", LATER)).toBe("fresh");
    expect(await guard.remember("k", LATER)).toBe("replayed");
  });
});
