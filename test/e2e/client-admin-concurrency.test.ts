/**
 * Concurrent admin writes on PostgreSQL, where calls really run side by side: UpdateClient
 * without an etag merges and validates against the client as locked for the write, so two
 * changes that are each valid alone can never combine into an invalid client. ListClients'
 * name_prefix matches its characters literally, on both storages.
 */
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminApi, codeOf } from "../support/clients.js";
import { STORAGE_KINDS, startTestServer, type TestServer } from "../support/test-server.js";

const PAIRS = 40;

describe("concurrent UpdateClient calls without an etag on postgres storage", () => {
  let server: TestServer;
  let auth: { headers: { authorization: string } };
  const api = () => adminApi(server);

  beforeAll(async () => {
    server = await startTestServer({ storage: "postgres" });
    auth = { headers: { authorization: `Bearer ${await server.adminToken()}` } };
  });
  afterAll(async () => server?.destroy());

  it("never store default scopes outside the allowed scopes when one call narrows the scopes and the other sets the defaults", async () => {
    const clientIds = await Promise.all(
      Array.from({ length: PAIRS }, async (_, i) => {
        const created = await api().createClient({ clientId: `racer-${i}`, name: `racer ${i}`, scopes: ["a", "b"], defaultScopes: ["a"] }, auth);
        return created.client!.clientId;
      }),
    );
    // Each call is valid against the client as created; applied together they are not.
    const outcomes = await Promise.all(
      clientIds.flatMap((clientId) =>
        [
          api().updateClient({ client: { clientId, scopes: ["a"] }, updateMask: { paths: ["scopes"] } }, auth),
          api().updateClient({ client: { clientId, defaultScopes: ["b"] }, updateMask: { paths: ["default_scopes"] } }, auth),
        ].map(codeOf),
      ),
    );
    // The loser of each pair is refused as invalid, never applied.
    expect(outcomes.filter((outcome) => outcome !== "ok").every((outcome) => outcome === Code.InvalidArgument)).toBe(true);
    for (const clientId of clientIds) {
      const { client } = await api().getClient({ clientId }, auth);
      expect(client!.defaultScopes.every((scope) => client!.scopes.includes(scope)), `${clientId}: ${client!.defaultScopes} within ${client!.scopes}`).toBe(true);
    }
  });
});

describe.each(STORAGE_KINDS)("ListClients name_prefix on %s storage", (storage) => {
  let server: TestServer;
  let auth: { headers: { authorization: string } };
  const api = () => adminApi(server);

  beforeAll(async () => {
    server = await startTestServer({ storage });
    auth = { headers: { authorization: `Bearer ${await server.adminToken()}` } };
  });
  afterAll(async () => server?.destroy());

  it("matches %, _ and \\ literally, not as LIKE wildcards", async () => {
    for (const name of ["100% sure", "100x sure", "a_b", "axb", "back\\slash", "back\\\\slash", "backXslash"]) {
      await api().createClient({ name, scopes: ["s"] }, auth);
    }
    const names = async (namePrefix: string) => (await api().listClients({ namePrefix, pageSize: 100 }, auth)).clients.map((client) => client.name).sort();
    expect(await names("100%")).toEqual(["100% sure"]);
    expect(await names("a_")).toEqual(["a_b"]);
    expect(await names("%")).toEqual([]);
    expect(await names("_")).toEqual([]);
    expect(await names("back\\s")).toEqual(["back\\slash"]);
    expect(await names("back\\")).toEqual(["back\\\\slash", "back\\slash"]);
  });
});
