/**
 * The in-memory client registry: every lookup is answered from memory, an unknown id included
 * (no query, whatever the id), and a refresh (another replica's change) brings a client in or
 * takes it out. Start-up loads every client
 * in keyset pages; a resync compares versions and re-reads only what differs, without undoing
 * a change that lands while it runs.
 */
import { describe, expect, it } from "vitest";
import type { ClientRecord } from "../../src/clients/client.js";
import type { ClientKeysetQuery, ClientVersion } from "../../src/clients/client-repository.js";
import { ClientRegistry, type ClientRegistryStorage } from "../../src/clients/client-registry.js";

const T0 = new Date("2030-01-01T00:00:00.000Z");

function record(id: string, version: { revision?: number; updateTime?: Date } = {}): ClientRecord {
  return {
    client: { id, status: "active", revision: version.revision ?? 1, createTime: T0, updateTime: version.updateTime ?? T0 },
    secrets: [],
  } as unknown as ClientRecord;
}

/** The same client after one more change, as claimRevision leaves it. */
function changed(previous: ClientRecord): ClientRecord {
  return record(previous.client.id, {
    revision: previous.client.revision + 1,
    updateTime: new Date(previous.client.updateTime.getTime() + 1_000),
  });
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((settle) => (resolve = settle));
  return { promise, resolve };
}

type Method = keyof ClientRegistryStorage;

/**
 * Clients in a Map, listed in id order like the store. A held call reads the Map when it is
 * made, as a query would, but answers only when released: so a test can change things while
 * the registry waits on an older snapshot.
 */
class FakeStorage implements ClientRegistryStorage {
  readonly rows = new Map<string, ClientRecord>();
  readonly calls: { method: Method; argument: unknown }[] = [];
  private readonly held = new Map<Method, { reached: Deferred; released: Deferred }>();

  constructor(records: readonly ClientRecord[] = []) {
    for (const each of records) this.rows.set(each.client.id, each);
  }

  /** The next call of `method` answers with what storage held when it was made, once released. */
  holdNext(method: Method): { reached: Promise<void>; release(): void } {
    const hold = { reached: deferred(), released: deferred() };
    this.held.set(method, hold);
    return { reached: hold.reached.promise, release: hold.released.resolve };
  }

  callsOf(method: Method): unknown[] {
    return this.calls.filter((call) => call.method === method).map((call) => call.argument);
  }

  async findClient(clientId: string): Promise<ClientRecord | undefined> {
    return this.answer("findClient", clientId, this.rows.get(clientId));
  }

  async findClients(clientIds: readonly string[]): Promise<ClientRecord[]> {
    const found = clientIds.flatMap((id) => (this.rows.has(id) ? [this.rows.get(id)!] : []));
    return this.answer("findClients", [...clientIds], found);
  }

  async listClientsAfter(query: ClientKeysetQuery): Promise<ClientRecord[]> {
    return this.answer("listClientsAfter", query.afterId, this.page(query).map((id) => this.rows.get(id)!));
  }

  async listClientVersionsAfter(query: ClientKeysetQuery): Promise<ClientVersion[]> {
    const versions = this.page(query).map((id) => {
      const { revision, updateTime } = this.rows.get(id)!.client;
      return { id, revision, updateTime };
    });
    return this.answer("listClientVersionsAfter", query.afterId, versions);
  }

  private page(query: ClientKeysetQuery): string[] {
    return [...this.rows.keys()]
      .filter((id) => query.afterId === undefined || id > query.afterId)
      .sort()
      .slice(0, query.limit);
  }

  private async answer<T>(method: Method, argument: unknown, result: T): Promise<T> {
    this.calls.push({ method, argument });
    const hold = this.held.get(method);
    if (hold) {
      this.held.delete(method);
      hold.reached.resolve();
      await hold.released.promise;
    }
    return result;
  }
}

const ids = (...names: string[]) => names.map((name) => `client-${name}`);

describe("ClientRegistry", () => {
  it("answers an unknown id from memory, without asking storage, however many ids are tried", async () => {
    const storage = new FakeStorage([record("known")]);
    const registry = new ClientRegistry({ repository: storage });
    await registry.loadAll();
    storage.calls.length = 0;
    for (let i = 0; i < 1_000; i++) expect(registry.find(`random-${i}`)).toBeUndefined();
    expect(registry.find("x".repeat(20_000))).toBeUndefined();
    expect(storage.calls).toEqual([]);
  });

  it("finds a client created elsewhere once its announcement refreshes it, and drops it when deleted", async () => {
    const storage = new FakeStorage();
    const registry = new ClientRegistry({ repository: storage });
    storage.rows.set("late", record("late"));
    expect(registry.find("late")).toBeUndefined();
    await registry.refresh("late");
    expect(registry.find("late")?.client.id).toBe("late");
    storage.rows.delete("late");
    await registry.refresh("late");
    expect(registry.find("late")).toBeUndefined();
  });

  it("serves known clients from memory without asking storage", async () => {
    const storage = new FakeStorage([record("known")]);
    const registry = new ClientRegistry({ repository: storage });
    await registry.loadAll();
    for (let i = 0; i < 10; i++) await registry.find("known");
    expect(storage.callsOf("findClient")).toEqual([]);
  });
});

describe("ClientRegistry.loadAll, at start-up", () => {
  it("loads every client across several keyset pages, each asked for after the last id of the one before", async () => {
    const storage = new FakeStorage(ids("a", "b", "c", "d", "e").map((id) => record(id)));
    const registry = new ClientRegistry({ repository: storage, recordPageSize: 2 });
    await registry.loadAll();
    expect(registry.size).toBe(5);
    for (const id of ids("a", "b", "c", "d", "e")) expect(registry.find(id)?.client.id).toBe(id);
    expect(storage.callsOf("listClientsAfter")).toEqual([undefined, "client-b", "client-d"]);
  });

  it("asks for one more, empty page when the clients fill the last page exactly", async () => {
    const storage = new FakeStorage(ids("a", "b", "c", "d").map((id) => record(id)));
    const registry = new ClientRegistry({ repository: storage, recordPageSize: 2 });
    await registry.loadAll();
    expect(registry.size).toBe(4);
    expect(storage.callsOf("listClientsAfter")).toEqual([undefined, "client-b", "client-d"]);
  });

  it("does not bring back a client removed while its page was being read", async () => {
    const storage = new FakeStorage(ids("a", "b").map((id) => record(id)));
    const registry = new ClientRegistry({ repository: storage });
    const page = storage.holdNext("listClientsAfter");
    const loading = registry.loadAll();
    await page.reached;
    storage.rows.delete("client-a");
    registry.remove("client-a");
    page.release();
    await loading;
    expect(registry.find("client-a")).toBeUndefined();
    expect(registry.find("client-b")).toBeDefined();
  });

  it("keeps a client refreshed while the load is in flight rather than the load's older copy", async () => {
    const storage = new FakeStorage([record("client-a")]);
    const registry = new ClientRegistry({ repository: storage });
    const page = storage.holdNext("listClientsAfter");
    const loading = registry.loadAll();
    await page.reached;
    storage.rows.set("client-a", changed(storage.rows.get("client-a")!));
    await registry.refresh("client-a");
    page.release();
    await loading;
    expect(registry.find("client-a")?.client.revision).toBe(2);
  });
});

describe("ClientRegistry.resync", () => {
  async function loaded(names: string[], pageSizes: { recordPageSize?: number; versionPageSize?: number } = {}) {
    const storage = new FakeStorage(ids(...names).map((id) => record(id)));
    const registry = new ClientRegistry({ repository: storage, ...pageSizes });
    await registry.loadAll();
    storage.calls.length = 0;
    return { storage, registry };
  }

  it("re-reads nothing when every version matches", async () => {
    const { storage, registry } = await loaded(["a", "b", "c"]);
    await registry.resync();
    expect(storage.callsOf("listClientVersionsAfter")).toEqual([undefined]);
    expect(storage.callsOf("findClients")).toEqual([]);
    expect(storage.callsOf("findClient")).toEqual([]);
    expect(registry.size).toBe(3);
  });

  it("re-reads only the clients whose version changed, in one batch", async () => {
    const { storage, registry } = await loaded(["a", "b", "c", "d", "e"]);
    for (const id of ids("b", "d")) storage.rows.set(id, changed(storage.rows.get(id)!));
    await registry.resync();
    expect(storage.callsOf("findClients")).toEqual([ids("b", "d")]);
    expect(registry.find("client-b")?.client.revision).toBe(2);
    expect(registry.find("client-d")?.client.revision).toBe(2);
    expect(registry.find("client-a")?.client.revision).toBe(1);
  });

  it("drops clients deleted in storage without reading anything but versions", async () => {
    const { storage, registry } = await loaded(["a", "b", "c"]);
    storage.rows.delete("client-b");
    await registry.resync();
    expect(registry.find("client-b")).toBeUndefined();
    expect(registry.size).toBe(2);
    expect(storage.callsOf("findClients")).toEqual([]);
  });

  it("picks up clients created elsewhere that it had answered as unknown", async () => {
    const { storage, registry } = await loaded(["a"]);
    expect(registry.find("client-new")).toBeUndefined();
    storage.rows.set("client-new", record("client-new"));
    await registry.resync();
    expect(storage.callsOf("findClients")).toEqual([["client-new"]]);
    expect(registry.find("client-new")?.client.id).toBe("client-new");
  });

  it("treats a client deleted and created again under the same id (revision 1, later update time) as changed", async () => {
    const { storage, registry } = await loaded(["a"]);
    const recreated = record("client-a", { revision: 1, updateTime: new Date(T0.getTime() + 60_000) });
    storage.rows.set("client-a", recreated);
    await registry.resync();
    expect(storage.callsOf("findClients")).toEqual([["client-a"]]);
    expect(registry.find("client-a")).toBe(recreated);
  });

  it("lists versions in keyset pages and re-reads changed clients in batches of the record page size", async () => {
    const names = ["a", "b", "c", "d", "e", "f", "g"];
    const { storage, registry } = await loaded(names, { recordPageSize: 2, versionPageSize: 3 });
    for (const id of ids(...names)) storage.rows.set(id, changed(storage.rows.get(id)!));
    storage.rows.set("client-h", record("client-h"));
    storage.rows.delete("client-a");
    await registry.resync();
    expect(storage.callsOf("listClientVersionsAfter")).toEqual([undefined, "client-d", "client-g"]);
    expect(storage.callsOf("findClients")).toEqual([ids("b", "c"), ids("d"), ids("e", "f"), ids("g"), ids("h")]);
    expect([...ids("b", "c", "d", "e", "f", "g")].map((id) => registry.find(id)?.client.revision)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(registry.find("client-h")).toBeDefined();
    expect(registry.find("client-a")).toBeUndefined();
    expect(registry.size).toBe(7);
  });

  it("drops a client deleted between listing its version and re-reading it", async () => {
    const { storage, registry } = await loaded(["a"]);
    storage.rows.set("client-a", changed(storage.rows.get("client-a")!));
    const versions = storage.holdNext("listClientVersionsAfter");
    const resyncing = registry.resync();
    await versions.reached;
    storage.rows.delete("client-a");
    versions.release();
    await resyncing;
    expect(registry.find("client-a")).toBeUndefined();
  });

  it("waits for a load in flight instead of interleaving with it", async () => {
    const storage = new FakeStorage([record("client-a")]);
    const registry = new ClientRegistry({ repository: storage });
    const page = storage.holdNext("listClientsAfter");
    const loading = registry.loadAll();
    await page.reached;
    const resyncing = registry.resync();
    await new Promise((resolve) => setImmediate(resolve));
    expect(storage.callsOf("listClientVersionsAfter")).toEqual([]);
    page.release();
    await Promise.all([loading, resyncing]);
    expect(storage.callsOf("listClientVersionsAfter")).toEqual([undefined]);
  });
});

describe("a live change landing while a resync is in flight", () => {
  /** A registry holding client-a at revision 1 while storage has revision 2, with the re-read held. */
  async function resyncHeldOnReread() {
    const storage = new FakeStorage([record("client-a"), record("client-b")]);
    const registry = new ClientRegistry({ repository: storage });
    await registry.loadAll();
    storage.rows.set("client-a", changed(storage.rows.get("client-a")!));
    const reread = storage.holdNext("findClients");
    const resyncing = registry.resync();
    await reread.reached;
    return { storage, registry, resyncing, release: reread.release };
  }

  it("is not undone when it is a refresh after another replica's newer change", async () => {
    const { storage, registry, resyncing, release } = await resyncHeldOnReread();
    storage.rows.set("client-a", changed(storage.rows.get("client-a")!));
    await registry.refresh("client-a");
    release();
    await resyncing;
    expect(registry.find("client-a")?.client.revision).toBe(3);
  });

  it("is not undone when it is a put of this replica's own newer change", async () => {
    const { storage, registry, resyncing, release } = await resyncHeldOnReread();
    const newer = changed(storage.rows.get("client-a")!);
    storage.rows.set("client-a", newer);
    registry.put(newer);
    release();
    await resyncing;
    expect(registry.find("client-a")).toBe(newer);
  });

  it("is not undone when it is a remove: the deleted client does not come back", async () => {
    const { storage, registry, resyncing, release } = await resyncHeldOnReread();
    storage.rows.delete("client-a");
    registry.remove("client-a");
    release();
    await resyncing;
    expect(registry.find("client-a")).toBeUndefined();
  });

  it("keeps a client created after its page of versions was read, whether put or refreshed", async () => {
    const storage = new FakeStorage([record("client-a")]);
    const registry = new ClientRegistry({ repository: storage });
    await registry.loadAll();
    const versions = storage.holdNext("listClientVersionsAfter");
    const resyncing = registry.resync();
    await versions.reached;
    for (const id of ids("put", "refreshed")) storage.rows.set(id, record(id));
    registry.put(storage.rows.get("client-put")!);
    await registry.refresh("client-refreshed");
    versions.release();
    await resyncing;
    for (const id of ids("put", "refreshed")) expect(registry.find(id)?.client.id).toBe(id);
    expect(registry.size).toBe(3);
  });

  it("still leaves later resyncs free to change the same client", async () => {
    const { storage, registry, resyncing, release } = await resyncHeldOnReread();
    storage.rows.set("client-a", changed(storage.rows.get("client-a")!));
    await registry.refresh("client-a");
    release();
    await resyncing;
    storage.rows.set("client-a", changed(storage.rows.get("client-a")!));
    await registry.resync();
    expect(registry.find("client-a")?.client.revision).toBe(4);
  });
});
