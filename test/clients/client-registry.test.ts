/**
 * The in-memory client registry: misses go to storage once, are remembered briefly and
 * boundedly, and a refresh (another replica's change) forgets them.
 */
import { describe, expect, it } from "vitest";
import type { ClientRecord } from "../../src/clients/client.js";
import { ClientRegistry } from "../../src/clients/client-registry.js";

function fakeRepository(records: Map<string, ClientRecord>) {
  const lookups: string[] = [];
  return {
    lookups,
    repository: {
      async findClient(clientId: string) {
        lookups.push(clientId);
        return records.get(clientId);
      },
      async listAllClients() {
        return [...records.values()];
      },
    },
  };
}

const record = (id: string) => ({ client: { id, status: "active" }, secrets: [] }) as unknown as ClientRecord;

describe("ClientRegistry", () => {
  it("asks storage once for an unknown id while the negative entry lives, then again after it expires", async () => {
    let now = 1_000_000;
    const { repository, lookups } = fakeRepository(new Map());
    const registry = new ClientRegistry(repository, () => now);
    for (let i = 0; i < 100; i++) expect(await registry.find("ghost")).toBeUndefined();
    expect(lookups).toEqual(["ghost"]);
    now += 5_001;
    await registry.find("ghost");
    expect(lookups).toEqual(["ghost", "ghost"]);
  });

  it("remembers at most 10,000 unknown ids, forgetting the oldest first", async () => {
    const { repository, lookups } = fakeRepository(new Map());
    const registry = new ClientRegistry(repository, () => 0);
    for (let i = 0; i < 10_050; i++) await registry.find(`random-${i}`);
    expect(registry.unknownSize).toBe(10_000);
    lookups.length = 0;
    await registry.find("random-0");
    await registry.find("random-10049");
    expect(lookups).toEqual(["random-0"]);
  });

  it("finds a client created elsewhere after a refresh clears its negative entry", async () => {
    const records = new Map<string, ClientRecord>();
    const { repository } = fakeRepository(records);
    const registry = new ClientRegistry(repository, () => 0);
    expect(await registry.find("late")).toBeUndefined();
    records.set("late", record("late"));
    expect(await registry.find("late")).toBeUndefined();
    await registry.refresh("late");
    expect((await registry.find("late"))?.client.id).toBe("late");
    records.delete("late");
    await registry.refresh("late");
    expect(registry.peek("late")).toBeUndefined();
  });

  it("serves known clients from memory without asking storage", async () => {
    const records = new Map([["known", record("known")]]);
    const { repository, lookups } = fakeRepository(records);
    const registry = new ClientRegistry(repository);
    await registry.loadAll();
    for (let i = 0; i < 10; i++) await registry.find("known");
    expect(lookups).toEqual([]);
  });
});
