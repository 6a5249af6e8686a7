/**
 * The in-memory revocation list: a reload (start-up, resync) adds what storage holds and forgets
 * only expired revocations, so no revoked token is accepted while the reload's query runs.
 */
import { describe, expect, it } from "vitest";
import { RevocationList, type Revocation, type RevocationRepository } from "../../src/oauth/revocation-list.js";

const NOW = new Date("2030-01-01T00:00:00.000Z");
const later = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);

/** Stored revocations; the next listing is answered only when the test releases it. */
function heldRepository(stored: Revocation[]) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let reached!: () => void;
  const listing = new Promise<void>((resolve) => (reached = resolve));
  const repository: RevocationRepository = {
    async saveRevocation(revocation) {
      stored.push(revocation);
    },
    async listRevocations(now) {
      const snapshot = stored.filter((revocation) => revocation.expireTime > now);
      reached();
      await released;
      return snapshot;
    },
    async purgeRevocations() {
      return 0;
    },
  };
  return { repository, listing, release };
}

describe("RevocationList.load", () => {
  it("keeps refusing tokens revoked earlier while the reload's query is in flight", async () => {
    const stored = [{ jti: "revoked", clientId: "c", expireTime: later(60) }];
    const { repository, listing, release } = heldRepository(stored);
    const list = new RevocationList(repository);
    list.remember("revoked", later(60));
    const loading = list.load(NOW);
    await listing;
    expect(list.isRevoked("revoked")).toBe(true);
    release();
    await loading;
    expect(list.isRevoked("revoked")).toBe(true);
  });

  it("keeps a revocation heard while the reload ran, though the reload's snapshot lacks it", async () => {
    const { repository, listing, release } = heldRepository([]);
    const list = new RevocationList(repository);
    const loading = list.load(NOW);
    await listing;
    list.remember("heard-meanwhile", later(60));
    release();
    await loading;
    expect(list.isRevoked("heard-meanwhile")).toBe(true);
  });

  it("adds the stored revocations and forgets the expired ones", async () => {
    const { repository, release } = heldRepository([{ jti: "stored", clientId: "c", expireTime: later(60) }]);
    const list = new RevocationList(repository);
    list.remember("expired", later(-1));
    release();
    await list.load(NOW);
    expect(list.isRevoked("stored")).toBe(true);
    expect(list.isRevoked("expired")).toBe(false);
    expect(list.size).toBe(1);
  });
});
