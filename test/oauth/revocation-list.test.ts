/**
 * The in-memory revocation list: a reload (start-up, resync) adds what storage holds and forgets
 * only expired revocations, so no revoked token is accepted while the reload's query runs. Past a
 * per-client number of live revocations, a client's revocations collapse into one cutoff.
 */
import { describe, expect, it } from "vitest";
import { RevocationList, type Revocation, type RevocationRepository } from "../../src/oauth/revocation-list.js";

const NOW = new Date("2030-01-01T00:00:00.000Z");
const later = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);
/** A token of client "c" (or another), expiring in a minute unless told otherwise. */
const tokenOf = (jti: string, options: { clientId?: string; expiresInSeconds?: number } = {}) => ({
  jti,
  clientId: options.clientId ?? "c",
  expiresAt: later(options.expiresInSeconds ?? 60).getTime() / 1000,
});

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
    list.remember({ jti: "revoked", clientId: "c", expireTime: later(60) });
    const loading = list.load(NOW);
    await listing;
    expect(list.isRevoked(tokenOf("revoked"))).toBe(true);
    release();
    await loading;
    expect(list.isRevoked(tokenOf("revoked"))).toBe(true);
  });

  it("keeps a revocation heard while the reload ran, though the reload's snapshot lacks it", async () => {
    const { repository, listing, release } = heldRepository([]);
    const list = new RevocationList(repository);
    const loading = list.load(NOW);
    await listing;
    list.remember({ jti: "heard-meanwhile", clientId: "c", expireTime: later(60) });
    release();
    await loading;
    expect(list.isRevoked(tokenOf("heard-meanwhile"))).toBe(true);
  });

  it("adds the stored revocations and forgets the expired ones", async () => {
    const { repository, release } = heldRepository([{ jti: "stored", clientId: "c", expireTime: later(60) }]);
    const list = new RevocationList(repository);
    list.remember({ jti: "expired", clientId: "c", expireTime: later(-1) });
    release();
    await list.load(NOW);
    expect(list.isRevoked(tokenOf("stored"))).toBe(true);
    expect(list.isRevoked(tokenOf("expired"))).toBe(false);
    expect(list.size).toBe(1);
  });
});

describe("RevocationList, bounded per client", () => {
  const repository: RevocationRepository = {
    async saveRevocation() {},
    async listRevocations() {
      return [];
    },
    async purgeRevocations() {
      return 0;
    },
  };

  it("holds at most the per-client number of revocations, refusing every token of that client up to the latest one revoked", async () => {
    const list = new RevocationList(repository, { maxPerClient: 10 });
    for (let i = 1; i <= 1_000; i++) await list.revoke({ jti: `busy-${i}`, clientId: "busy", expireTime: later(60 + i) });
    expect(list.size).toBeLessThanOrEqual(11);
    for (const i of [1, 500, 1_000]) expect(list.isRevoked(tokenOf(`busy-${i}`, { clientId: "busy", expiresInSeconds: 60 + i }))).toBe(true);
    // Issued after the latest revoked one: not revoked.
    expect(list.isRevoked(tokenOf("busy-fresh", { clientId: "busy", expiresInSeconds: 2_000 }))).toBe(false);
  });

  it("leaves other clients' tokens alone and keeps theirs by jti", async () => {
    const list = new RevocationList(repository, { maxPerClient: 10 });
    for (let i = 1; i <= 100; i++) list.remember({ jti: `busy-${i}`, clientId: "busy", expireTime: later(60 + i) });
    list.remember({ jti: "quiet-revoked", clientId: "quiet", expireTime: later(60) });
    expect(list.isRevoked(tokenOf("quiet-revoked", { clientId: "quiet" }))).toBe(true);
    expect(list.isRevoked(tokenOf("quiet-other", { clientId: "quiet", expiresInSeconds: 30 }))).toBe(false);
  });

  it("forgets a client's cutoff once every token it covers has expired", async () => {
    const list = new RevocationList(repository, { maxPerClient: 2 });
    for (let i = 1; i <= 5; i++) list.remember({ jti: `j-${i}`, clientId: "busy", expireTime: later(i) });
    expect(list.size).toBeGreaterThan(0);
    await list.purge(later(10));
    expect(list.size).toBe(0);
  });
});
