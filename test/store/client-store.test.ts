/**
 * The store's side of warming and resyncing the registry, on the embedded database and on
 * PostgreSQL: clients listed in keyset pages by id with their secrets, the same pages holding
 * only versions, and clients read back by id — all matching what was written, also after a
 * secret rotation bumped the revision.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AuditEntry } from "../../src/audit/audit-event.js";
import type { ClientRecord } from "../../src/clients/client.js";
import type { ClientRepository, NewClient } from "../../src/clients/client-repository.js";
import { generateClientSecret } from "../../src/clients/client-secret.js";
import { PrismaClientRepository } from "../../src/store/client-store.js";
import { newClientFixture } from "../support/client-fixture.js";
import { DATABASE_BACKENDS } from "../support/databases.js";

const audit = (action: string, clientId: string): AuditEntry => ({ actor: "test", action, targetClientId: clientId, outcome: "success" });

const newClient = (id: string): NewClient => newClientFixture({ id });

/** Every page of a keyset listing, `limit` at a time, and how many queries that took. */
async function allPages<T>(list: (afterId: string | undefined) => Promise<T[]>, idOf: (item: T) => string, limit: number) {
  const pages: T[][] = [];
  let afterId: string | undefined;
  for (;;) {
    const page = await list(afterId);
    pages.push(page);
    if (page.length < limit) return pages;
    afterId = idOf(page[page.length - 1]!);
  }
}

/** Secrets come back in no particular order; compare them by slot. */
const bySlot = (record: ClientRecord | undefined) =>
  record && { ...record, secrets: [...record.secrets].sort((a, b) => a.slot.localeCompare(b.slot)) };

const versionOf = (record: ClientRecord) => ({ id: record.client.id, revision: record.client.revision, updateTime: record.client.updateTime });

describe.each(DATABASE_BACKENDS)("PrismaClientRepository on $name, for the in-memory registry", (backend) => {
  let discard: () => Promise<void>;
  let repository: ClientRepository;
  let written: Map<string, ClientRecord>;

  // Created out of id order, so the listing's order comes from the query, not from insertion.
  const ids = ["carol", "alice", "erin", "bob", "dave"];
  const sorted = [...ids].sort();

  beforeEach(async () => {
    const opened = await backend.open();
    discard = opened.discard;
    repository = new PrismaClientRepository(opened.database.prisma);
    written = new Map();
    for (const id of ids) {
      written.set(id, await repository.createClient({ client: newClient(id), secret: generateClientSecret("current").stored, audit: audit("client.create", id) }));
    }
  });
  afterEach(async () => {
    await discard();
  });

  it("lists every client with its secrets in keyset pages ordered by id", async () => {
    const pages = await allPages((afterId) => repository.listClientsAfter({ afterId, limit: 2 }), (record) => record.client.id, 2);
    expect(pages.map((page) => page.map((record) => record.client.id))).toEqual([["alice", "bob"], ["carol", "dave"], ["erin"]]);
    expect(pages.flat()).toEqual(sorted.map((id) => written.get(id)));
  });

  it("lists the version of every client in the same pages: id, revision and update time as written", async () => {
    const pages = await allPages((afterId) => repository.listClientVersionsAfter({ afterId, limit: 2 }), (version) => version.id, 2);
    expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
    expect(pages.flat()).toEqual(sorted.map((id) => versionOf(written.get(id)!)));
  });

  it("answers a page past the last client with nothing", async () => {
    expect(await repository.listClientsAfter({ afterId: "erin", limit: 2 })).toEqual([]);
    expect(await repository.listClientVersionsAfter({ afterId: "erin", limit: 2 })).toEqual([]);
  });

  it("reads clients back by id with their secrets, leaving out ids that name no client", async () => {
    const found = await repository.findClients(["dave", "nobody", "alice"]);
    expect(found.sort((a, b) => a.client.id.localeCompare(b.client.id))).toEqual([written.get("alice"), written.get("dave")]);
    expect(await repository.findClients([])).toEqual([]);
  });

  it("shows each step of a secret rotation as a new version, and the listings carry the new secrets", async () => {
    const next = generateClientSecret("next").stored;
    const started = await repository.rotateSecret({ clientId: "bob", expectedRevision: undefined, step: { kind: "start", next }, audit: audit("client.secret_rotation.start", "bob") });
    expect(started.client.revision).toBe(written.get("bob")!.client.revision + 1);
    expect(await repository.listClientVersionsAfter({ afterId: "alice", limit: 1 })).toEqual([versionOf(started)]);
    const [startedListed] = await repository.listClientsAfter({ afterId: "alice", limit: 1 });
    expect(bySlot(startedListed)).toEqual(bySlot(started));
    expect(bySlot(startedListed)!.secrets.map((secret) => [secret.slot, secret.hash])).toEqual([
      ["current", written.get("bob")!.secrets[0]!.hash],
      ["next", next.hash],
    ]);

    const completed = await repository.rotateSecret({ clientId: "bob", expectedRevision: undefined, step: { kind: "complete" }, audit: audit("client.secret_rotation.complete", "bob") });
    expect(completed.client.revision).toBe(started.client.revision + 1);
    expect(await repository.listClientVersionsAfter({ afterId: "alice", limit: 1 })).toEqual([versionOf(completed)]);
    expect(await repository.findClients(["bob"])).toEqual([completed]);
    expect(completed.secrets.map((secret) => [secret.slot, secret.hash])).toEqual([["current", next.hash]]);

    // The clients that were not rotated keep the versions they were written with.
    const versions = await repository.listClientVersionsAfter({ afterId: undefined, limit: 10 });
    expect(versions.filter((version) => version.id !== "bob")).toEqual(sorted.filter((id) => id !== "bob").map((id) => versionOf(written.get(id)!)));
  });

  it("leaves a deleted client out of both listings", async () => {
    await repository.deleteClient({ clientId: "carol", expectedRevision: undefined, audit: audit("client.delete", "carol") });
    const records = await repository.listClientsAfter({ afterId: undefined, limit: 10 });
    const versions = await repository.listClientVersionsAfter({ afterId: undefined, limit: 10 });
    expect(records.map((record) => record.client.id)).toEqual(sorted.filter((id) => id !== "carol"));
    expect(versions.map((version) => version.id)).toEqual(sorted.filter((id) => id !== "carol"));
  });
});
