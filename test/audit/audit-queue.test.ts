/**
 * The audit queue: entries written in order off the caller's path, bounded, with the count of
 * entries dropped past the bound carried by the next one written; a failed write never throws
 * at the caller.
 */
import { describe, expect, it, vi } from "vitest";
import type { AuditEntry } from "../../src/audit/audit-event.js";
import { AuditQueue } from "../../src/audit/audit-queue.js";

const entry = (n: number): AuditEntry => ({ actor: `c${n}`, action: "federation.token_issued", outcome: "success", details: { n } });

describe("AuditQueue", () => {
  it("writes every entry in order, without the caller waiting", async () => {
    const written: AuditEntry[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const queue = new AuditQueue({
      audit: {
        record: async (value) => {
          await gate;
          written.push(value);
        },
      },
    });
    queue.enqueue(entry(1));
    queue.enqueue(entry(2));
    // Both calls returned while the database had not answered yet.
    expect(written).toEqual([]);
    release();
    await queue.idle();
    expect(written.map((value) => value.actor)).toEqual(["c1", "c2"]);
  });

  it("writes what waited during a write as one batch, in order, when the log takes batches (no linger)", async () => {
    const batches: string[][] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const queue = new AuditQueue({
      audit: {
        record: async () => {
          throw new Error("single writes are not used when batches are taken");
        },
        recordAll: async (values) => {
          await gate;
          batches.push(values.map((value) => value.actor));
        },
      },
      lingerMs: 0,
    });
    for (let n = 1; n <= 4; n++) queue.enqueue(entry(n));
    release();
    await queue.idle();
    // The first went alone (nothing else waited yet); the three queued behind it went together.
    expect(batches).toEqual([["c1"], ["c2", "c3", "c4"]]);
  });

  it("lingers before a batch, so entries arriving meanwhile go in the same statement", async () => {
    const batches: { actors: string[]; at: number }[] = [];
    const queue = new AuditQueue({
      audit: {
        record: async () => {
          throw new Error("single writes are not used when batches are taken");
        },
        recordAll: async (values) => {
          batches.push({ actors: values.map((value) => value.actor), at: Date.now() });
        },
      },
      lingerMs: 100,
    });
    const start = Date.now();
    queue.enqueue(entry(1));
    await new Promise((resolve) => setTimeout(resolve, 20));
    queue.enqueue(entry(2));
    queue.enqueue(entry(3));
    expect(batches).toEqual([]);
    await vi.waitFor(() => expect(batches).toHaveLength(1), { timeout: 2_000 });
    expect(batches[0]!.actors).toEqual(["c1", "c2", "c3"]);
    expect(batches[0]!.at - start).toBeGreaterThanOrEqual(90);
  });

  it("writes what lingers at once when asked to become idle", async () => {
    const batches: string[][] = [];
    const queue = new AuditQueue({
      audit: {
        record: async () => {
          throw new Error("single writes are not used when batches are taken");
        },
        recordAll: async (values) => {
          batches.push(values.map((value) => value.actor));
        },
      },
      lingerMs: 60_000,
    });
    queue.enqueue(entry(1));
    queue.enqueue(entry(2));
    await queue.idle();
    expect(batches).toEqual([["c1", "c2"]]);
    queue.enqueue(entry(3));
    await queue.idle();
    expect(batches).toEqual([["c1", "c2"], ["c3"]]);
  });

  it("drops entries past its bound and says how many with the next entry written", async () => {
    const written: AuditEntry[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const queue = new AuditQueue({
      audit: {
        record: async (value) => {
          await gate;
          written.push(value);
        },
      },
      maxPending: 2,
    });
    for (let n = 1; n <= 6; n++) queue.enqueue(entry(n));
    // The first is being written, two wait; three were dropped.
    expect(queue.size).toBe(2);
    release();
    await queue.idle();
    queue.enqueue(entry(7));
    await queue.idle();
    expect(written.map((value) => value.actor)).toEqual(["c1", "c2", "c3", "c7"]);
    expect(written[3]!.details).toEqual({ n: 7, droppedBefore: 3 });
  });

  it("reports a failed write and goes on with the next", async () => {
    const errors: unknown[] = [];
    const written: string[] = [];
    const queue = new AuditQueue({
      audit: {
        record: async (value) => {
          if (value.actor === "c1") throw new Error("database gone");
          written.push(value.actor);
        },
      },
      onError: (error) => errors.push(error),
    });
    queue.enqueue(entry(1));
    queue.enqueue(entry(2));
    await queue.idle();
    expect(errors).toHaveLength(1);
    expect(written).toEqual(["c2"]);
  });
});
