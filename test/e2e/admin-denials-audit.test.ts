/**
 * Refused admin calls over one HTTP/2 connection, on both storages: they are audited without
 * writing a row per refusal (one row per source and reason a window, the rest counted into the
 * next row), and they spend the caller's per-address budget. The server's clock stands still
 * unless the test moves it, so the budget does not refill behind the test's back.
 */
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientAdminService } from "../../src/gen/tessera/v1/client_admin_service_pb.js";
import { adminApi } from "../support/clients.js";
import { STORAGE_KINDS, startTestServer, type TestServer } from "../support/test-server.js";

class Clock {
  time = Date.now();
  readonly now = () => new Date(this.time);
  advance(ms: number): void {
    this.time += ms;
  }
}

const REFUSALS = 500;
const PER_IP_PER_SECOND = 100;

describe.each(STORAGE_KINDS)("refused admin calls on %s storage", (storage) => {
  const clock = new Clock();
  let server: TestServer;
  let auth: { headers: { authorization: string } };

  beforeAll(async () => {
    server = await startTestServer({ storage, now: clock.now, env: { TESSERA_RATE_LIMIT_PER_IP: String(PER_IP_PER_SECOND) } });
    auth = { headers: { authorization: `Bearer ${await server.adminToken()}` } };
  });
  afterAll(async () => server?.destroy());

  const deniedRows = async () =>
    (await adminApi(server).listAuditEvents({ pageSize: 500 }, auth)).events.filter((event) => event.action === "admin.denied");

  it(`writes a handful of audit rows for ${REFUSALS} refusals from one connection, with the count of the rest, and spends the address's budget`, async () => {
    // One HTTP/2 session: every call shares one connection.
    const anonymous = createClient(ClientAdminService, createConnectTransport({ baseUrl: server.url, httpVersion: "2" }));
    const codes = new Map<Code, number>();
    for (let batch = 0; batch < REFUSALS / 25; batch++) {
      const outcomes = await Promise.all(
        Array.from({ length: 25 }, () =>
          anonymous.listClients({}).then(
            () => "ok" as const,
            (error: unknown) => (error instanceof ConnectError ? error.code : "other"),
          ),
        ),
      );
      for (const outcome of outcomes) {
        expect(outcome).not.toBe("ok");
        expect(outcome).not.toBe("other");
        codes.set(outcome as Code, (codes.get(outcome as Code) ?? 0) + 1);
      }
    }
    expect(codes.get(Code.Unauthenticated)).toBeGreaterThan(0);
    // The budget (burst of twice the rate) ran out, and the clock did not refill it.
    expect(codes.get(Code.ResourceExhausted)).toBeGreaterThan(0);
    expect(codes.get(Code.Unauthenticated)).toBeLessThanOrEqual(2 * PER_IP_PER_SECOND);

    const during = await deniedRows();
    expect(during.length).toBeGreaterThanOrEqual(1);
    expect(during.length).toBeLessThanOrEqual(3);
    expect(during[0]!.details).toMatchObject({ rpc: "ListClients", reason: "a bearer access token is required" });

    // A window later the next refusal is written, carrying the count of those not written.
    clock.advance(61_000);
    await expect(anonymous.listClients({})).rejects.toMatchObject({ code: Code.Unauthenticated });
    const rows = await deniedRows();
    expect(rows.length).toBeLessThanOrEqual(4);
    const suppressed = rows.reduce((sum, row) => sum + Number(row.details?.suppressed ?? 0), 0);
    expect(rows.length + suppressed).toBe(REFUSALS + 1);
  });
});
