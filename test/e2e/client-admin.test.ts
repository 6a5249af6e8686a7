/**
 * The whole lifecycle of a machine client over ClientAdminService, on both storages: create,
 * read, page, update with field masks and etags, deactivate, rotate secrets, delete, import —
 * every change audited in its own transaction, and the hot path seeing each change at once.
 */
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientStatus } from "../../src/gen/tessera/v1/client_pb.js";
import { adminApi, codeOf } from "../support/clients.js";
import { grpc, grpcClient, unary } from "../support/grpc-clients.js";
import { STORAGE_KINDS, basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";

async function tokenStatus(server: TestServer, clientId: string, clientSecret: string): Promise<number> {
  const response = await fetch(`${server.url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(clientId, clientSecret) },
    body: "grant_type=client_credentials",
  });
  await response.arrayBuffer();
  return response.status;
}

describe.each(STORAGE_KINDS)("ClientAdminService on %s storage", (storage) => {
  let server: TestServer;
  let auth: { headers: { authorization: string } };
  const api = () => adminApi(server);

  beforeAll(async () => {
    server = await startTestServer({ storage });
    auth = { headers: { authorization: `Bearer ${await server.adminToken()}` } };
  });
  afterAll(async () => server?.destroy());

  const create = async (name: string, extra: Record<string, unknown> = {}) => api().createClient({ name, scopes: ["s:read"], ...extra }, auth);
  const auditActions = async (clientId: string) =>
    (await api().listAuditEvents({ clientId, pageSize: 100 }, auth)).events.map((event) => event.action);

  it("gets a client by id, NOT_FOUND for an unknown id, ALREADY_EXISTS for a taken one", async () => {
    const created = await create("lookup", { clientId: "lookup-client" });
    expect((await api().getClient({ clientId: "lookup-client" }, auth)).client).toMatchObject({ name: "lookup", status: ClientStatus.ACTIVE, etag: created.client!.etag });
    expect(await codeOf(api().getClient({ clientId: "no-such-client" }, auth))).toBe(Code.NotFound);
    expect(await codeOf(create("again", { clientId: "lookup-client" }))).toBe(Code.AlreadyExists);
    expect(await codeOf(create("bad id", { clientId: "has space" }))).toBe(Code.InvalidArgument);
  });

  it("pages through more than three pages in a stable order while clients are added", async () => {
    const prefix = `page-${storage}-`;
    for (let i = 0; i < 7; i++) await create(`${prefix}${i}`);
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    let totalSize = 0;
    do {
      const page = await api().listClients({ pageSize: 2, pageToken, namePrefix: prefix }, auth);
      seen.push(...page.clients.map((client) => client.name));
      pageToken = page.nextPageToken;
      totalSize = page.totalSize;
      pages++;
      // A client added mid-listing lands after the cursor and is still seen once.
      if (pages === 2) await create(`${prefix}late`);
    } while (pageToken !== "");
    expect(pages).toBeGreaterThan(3);
    expect(seen).toEqual([...Array.from({ length: 7 }, (_, i) => `${prefix}${i}`), `${prefix}late`]);
    expect(totalSize).toBe(8);
    expect(await codeOf(api().listClients({ pageSize: 2, pageToken: "garbage" }, auth))).toBe(Code.InvalidArgument);
  });

  it("filters by status and refuses a page token reused with other filters", async () => {
    const prefix = `filter-${storage}-`;
    const a = await create(`${prefix}a`);
    await create(`${prefix}b`);
    await create(`${prefix}c`);
    await api().deactivateClient({ clientId: a.client!.clientId }, auth);
    const inactive = await api().listClients({ namePrefix: prefix, status: ClientStatus.INACTIVE }, auth);
    expect(inactive.clients.map((client) => client.name)).toEqual([`${prefix}a`]);
    const first = await api().listClients({ namePrefix: prefix, pageSize: 1 }, auth);
    expect(await codeOf(api().listClients({ namePrefix: prefix, pageSize: 1, pageToken: first.nextPageToken, status: ClientStatus.ACTIVE }, auth))).toBe(Code.InvalidArgument);
  });

  it("updates only the fields in the mask, and refuses unknown or output-only paths", async () => {
    const created = await create("masked", { description: "before", audiences: ["https://a.example"] });
    const clientId = created.client!.clientId;
    const updated = await api().updateClient(
      { client: { clientId, name: "renamed", description: "ignored", scopes: ["s:read", "s:write"] }, updateMask: { paths: ["name", "scopes"] } },
      auth,
    );
    expect(updated.client).toMatchObject({ name: "renamed", description: "before", scopes: ["s:read", "s:write"], audiences: ["https://a.example"] });
    expect(updated.client!.etag).not.toBe(created.client!.etag);
    for (const path of ["nonsense", "client_id", "status", "etag", "constructor", "toString", "__proto__"]) {
      expect(await codeOf(api().updateClient({ client: { clientId }, updateMask: { paths: [path] } }, auth))).toBe(Code.InvalidArgument);
    }
    expect(await codeOf(api().updateClient({ client: { clientId: "no-such-client", name: "x" }, updateMask: { paths: ["name"] } }, auth))).toBe(Code.NotFound);
    expect(await auditActions(clientId)).toEqual(["client.update", "client.create"]);
  });

  it("lets exactly one of two concurrent updates with the same etag win; the loser is ABORTED and not audited", async () => {
    const created = await create("contended");
    const { clientId, etag } = created.client!;
    const results = await Promise.all(
      ["left", "right"].map((name) => codeOf(api().updateClient({ client: { clientId, etag, name }, updateMask: { paths: ["name"] } }, auth))),
    );
    expect(results.sort()).toEqual([Code.Aborted, "ok"].sort());
    expect(await auditActions(clientId)).toEqual(["client.update", "client.create"]);
  });

  it("deactivation stops token issuance at once; reactivation with a stale etag is ABORTED, without one restores it", async () => {
    const created = await create("switch");
    const { clientId } = created.client!;
    expect(await tokenStatus(server, clientId, created.clientSecret)).toBe(200);
    const deactivated = await api().deactivateClient({ clientId, etag: created.client!.etag }, auth);
    expect(deactivated.client!.status).toBe(ClientStatus.INACTIVE);
    expect(await tokenStatus(server, clientId, created.clientSecret)).toBe(401);
    expect(await codeOf(api().reactivateClient({ clientId, etag: created.client!.etag }, auth))).toBe(Code.Aborted);
    await api().reactivateClient({ clientId }, auth);
    expect(await tokenStatus(server, clientId, created.clientSecret)).toBe(200);
    expect(await auditActions(clientId)).toEqual(["client.reactivate", "client.deactivate", "client.create"]);
  });

  it("rotates a secret with both secrets working in between, then only the new one", async () => {
    const created = await create("rotating");
    const { clientId } = created.client!;
    const started = await api().startSecretRotation({ clientId }, auth);
    expect(started.client!.nextClientSecretLastFour).toBe(started.clientSecret.slice(-4));
    expect(await tokenStatus(server, clientId, created.clientSecret)).toBe(200);
    expect(await tokenStatus(server, clientId, started.clientSecret)).toBe(200);
    expect(await codeOf(api().startSecretRotation({ clientId }, auth))).toBe(Code.FailedPrecondition);
    const completed = await api().completeSecretRotation({ clientId }, auth);
    expect(completed.client).toMatchObject({ clientSecretLastFour: started.clientSecret.slice(-4), nextClientSecretLastFour: "" });
    expect(await tokenStatus(server, clientId, created.clientSecret)).toBe(401);
    expect(await tokenStatus(server, clientId, started.clientSecret)).toBe(200);
    expect(await codeOf(api().completeSecretRotation({ clientId }, auth))).toBe(Code.FailedPrecondition);

    const again = await api().startSecretRotation({ clientId }, auth);
    await api().cancelSecretRotation({ clientId }, auth);
    expect(await tokenStatus(server, clientId, again.clientSecret)).toBe(401);
    expect(await tokenStatus(server, clientId, started.clientSecret)).toBe(200);
  });

  it("deletes a client: its secret stops working and it is NOT_FOUND afterwards", async () => {
    const created = await create("doomed");
    const { clientId } = created.client!;
    await api().deleteClient({ clientId }, auth);
    expect(await tokenStatus(server, clientId, created.clientSecret)).toBe(401);
    expect(await codeOf(api().getClient({ clientId }, auth))).toBe(Code.NotFound);
    expect(await codeOf(api().deleteClient({ clientId }, auth))).toBe(Code.NotFound);
    expect(await auditActions(clientId)).toEqual(["client.delete", "client.create"]);
  });

  it("imports a client with its existing secret, refuses a guessable one, and never echoes it", async () => {
    const secret = "Imported-Secret-0123456789-abcdefghijklmnop";
    expect(await codeOf(api().importClient({ client: { clientId: "legacy-weak", name: "weak" }, clientSecret: "password" }, auth))).toBe(Code.InvalidArgument);
    expect(await codeOf(api().importClient({ client: { clientId: "legacy-weak", name: "weak" }, clientSecret: "a".repeat(40) }, auth))).toBe(Code.InvalidArgument);
    const imported = await api().importClient({ client: { clientId: "legacy-billing", name: "legacy", scopes: ["s:read"] }, clientSecret: secret }, auth);
    expect(JSON.stringify(imported.client, (_key, value: unknown) => (typeof value === "bigint" ? String(value) : value))).not.toContain(secret);
    expect(imported.client!.clientSecretLastFour).toBe(secret.slice(-4));
    expect(await tokenStatus(server, "legacy-billing", secret)).toBe(200);
  });

  it("pages the audit trail newest first and filters it by client", async () => {
    const created = await create("audited");
    const { clientId } = created.client!;
    await api().updateClient({ client: { clientId, name: "audited-2" }, updateMask: { paths: ["name"] } }, auth);
    await api().deactivateClient({ clientId }, auth);
    const first = await api().listAuditEvents({ clientId, pageSize: 2 }, auth);
    expect(first.events.map((event) => event.action)).toEqual(["client.deactivate", "client.update"]);
    expect(first.events[0]).toMatchObject({ actor: "tessera-admin", clientId, outcome: "success", requestId: expect.any(String) });
    const second = await api().listAuditEvents({ clientId, pageSize: 2, pageToken: first.nextPageToken }, auth);
    expect(second.events.map((event) => event.action)).toEqual(["client.create"]);
    expect(second.nextPageToken).toBe("");
  });

  it("lets tessera:clients:read get and list but not change, and audits the refusal", async () => {
    const reader = await create("reader", { scopes: ["tessera:clients:read"], audiences: [server.config.issuer] });
    const response = await fetch(`${server.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(reader.client!.clientId, reader.clientSecret) },
      body: "grant_type=client_credentials",
    });
    const { access_token } = (await response.json()) as { access_token: string };
    const asReader = { headers: { authorization: `Bearer ${access_token}` } };
    expect(await codeOf(api().getClient({ clientId: reader.client!.clientId }, asReader))).toBe("ok");
    expect(await codeOf(api().listClients({}, asReader))).toBe("ok");
    expect(await codeOf(api().createClient({ name: "nope" }, asReader))).toBe(Code.PermissionDenied);
    const denied = (await api().listAuditEvents({ pageSize: 20 }, auth)).events.filter((event) => event.action === "admin.denied");
    expect(denied[0]).toMatchObject({ actor: reader.client!.clientId, outcome: "denied" });
  });

  it("serves the same lifecycle to grpc-js", async () => {
    const admin = grpcClient(`127.0.0.1:${server.port}`, "ClientAdminService");
    const metadata = new grpc.Metadata();
    metadata.set("authorization", auth.headers.authorization);
    try {
      const created = await unary<{ client: { clientId: string; etag: string } }>(admin, "createClient", { name: "grpc-made", scopes: ["s:read"] }, metadata);
      const { clientId, etag } = created.client;
      await unary(admin, "deactivateClient", { clientId, etag }, metadata);
      await expect(unary(admin, "reactivateClient", { clientId, etag }, metadata)).rejects.toMatchObject({ code: grpc.status.ABORTED });
      await expect(unary(admin, "startSecretRotation", { clientId: "missing-client" }, metadata)).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
      await expect(unary(admin, "updateClient", { client: { clientId }, updateMask: { paths: ["bogus"] } }, metadata)).rejects.toMatchObject({
        code: grpc.status.INVALID_ARGUMENT,
      });
      await unary(admin, "deleteClient", { clientId }, metadata);
    } finally {
      admin.close();
    }
  });
});
