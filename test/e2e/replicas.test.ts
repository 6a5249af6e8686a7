/**
 * Three Tessera processes on one PostgreSQL behave as one service: a change made through any of
 * them is honoured by the others within a second (LISTEN/NOTIFY), with no per-request queries.
 */
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientAdminService } from "../../src/gen/tessera/v1/client_admin_service_pb.js";
import { SigningAlgorithm } from "../../src/gen/tessera/v1/client_pb.js";
import { startReplicas, type Replica, type Replicas } from "../support/replicas.js";
import { ADMIN_CLIENT, basicAuthorization } from "../support/test-server.js";

const PROPAGATION_LIMIT_MS = 1_000;

let started: Replicas;
let replicas: readonly Replica[];

beforeAll(async () => {
  started = await startReplicas({ schema: "replicas", count: 3, issuer: "http://tessera.replicas.test" });
  replicas = started.replicas;
}, 120_000);

afterAll(async () => {
  await started?.stop();
});

async function token(replica: Replica, clientId: string, clientSecret: string, scope?: string): Promise<{ status: number; accessToken?: string }> {
  const response = await fetch(`${replica.url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(clientId, clientSecret) },
    body: new URLSearchParams({ grant_type: "client_credentials", ...(scope ? { scope } : {}) }),
  });
  const body = (await response.json()) as { access_token?: string };
  return { status: response.status, accessToken: body.access_token };
}

async function adminToken(replica: Replica): Promise<string> {
  return (await token(replica, ADMIN_CLIENT.clientId, ADMIN_CLIENT.clientSecret, "tessera:admin tessera:introspect")).accessToken!;
}

function admin(replica: Replica) {
  return createClient(ClientAdminService, createConnectTransport({ baseUrl: replica.url, httpVersion: "1.1" }));
}

async function introspectionActive(replica: Replica, bearer: string, accessToken: string): Promise<boolean> {
  const response = await fetch(`${replica.url}/oauth/introspect`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Bearer ${bearer}` },
    body: new URLSearchParams({ token: accessToken }),
  });
  return ((await response.json()) as { active: boolean }).active;
}

/** Polls until `check` holds and returns how long that took; fails past the limit. */
async function within(limitMs: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > limitMs) throw new Error(`not propagated within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("three replicas on one PostgreSQL", () => {
  it("serve a client created on one replica from every replica within a second", async () => {
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    const bearer = await adminToken(a);
    // b has just been asked for this id and said no: that answer must not hide the creation.
    expect((await token(b, "created-on-a", "x".repeat(43))).status).toBe(401);
    const created = await admin(a).createClient({ clientId: "created-on-a", name: "replicated", scopes: ["r"] }, { headers: { authorization: `Bearer ${bearer}` } });
    await within(PROPAGATION_LIMIT_MS, async () => (await token(b, "created-on-a", created.clientSecret)).status === 200);
    await within(PROPAGATION_LIMIT_MS, async () => (await token(c, "created-on-a", created.clientSecret)).status === 200);
  });

  it("refuse a deactivated client's tokens on the other replicas within a second", async () => {
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    const bearer = await adminToken(a);
    const created = await admin(a).createClient({ name: "to-deactivate", scopes: ["r"] }, { headers: { authorization: `Bearer ${bearer}` } });
    // b knows the client once a's announcement arrives: an unknown id is never read from storage.
    let accessToken: string | undefined;
    await within(PROPAGATION_LIMIT_MS, async () => (accessToken = (await token(b, created.client!.clientId, created.clientSecret)).accessToken) !== undefined);
    await within(PROPAGATION_LIMIT_MS, () => introspectionActive(c, bearer, accessToken!));
    await admin(a).deactivateClient({ clientId: created.client!.clientId }, { headers: { authorization: `Bearer ${bearer}` } });
    const elapsed = await Promise.all([b, c].map((replica) => within(PROPAGATION_LIMIT_MS, async () => !(await introspectionActive(replica, bearer, accessToken!)))));
    expect(Math.max(...elapsed)).toBeLessThanOrEqual(PROPAGATION_LIMIT_MS);
    expect((await token(c, created.client!.clientId, created.clientSecret)).status).toBe(401);
  });

  it("refuse a token revoked on one replica on the others within a second", async () => {
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    const bearer = await adminToken(a);
    const created = await admin(a).createClient({ name: "to-revoke", scopes: ["r"] }, { headers: { authorization: `Bearer ${bearer}` } });
    const { accessToken } = await token(a, created.client!.clientId, created.clientSecret);
    const revoked = await fetch(`${a.url}/oauth/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(created.client!.clientId, created.clientSecret) },
      body: new URLSearchParams({ token: accessToken! }),
    });
    expect(revoked.status).toBe(200);
    await Promise.all([b, c].map((replica) => within(PROPAGATION_LIMIT_MS, async () => !(await introspectionActive(replica, bearer, accessToken!)))));
  });

  it("stop accepting a rotated-out secret on the other replicas within a second", async () => {
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    const bearer = await adminToken(a);
    const auth = { headers: { authorization: `Bearer ${bearer}` } };
    const created = await admin(a).createClient({ name: "to-rotate", scopes: ["r"] }, auth);
    const clientId = created.client!.clientId;
    // A client created on A reaches B by its announcement: unknown ids are never read from storage.
    await within(PROPAGATION_LIMIT_MS, async () => (await token(b, clientId, created.clientSecret)).status === 200);
    const started = await admin(a).startSecretRotation({ clientId }, auth);
    await within(PROPAGATION_LIMIT_MS, async () => (await token(b, clientId, started.clientSecret)).status === 200);
    await admin(a).completeSecretRotation({ clientId }, auth);
    await Promise.all([b, c].map((replica) => within(PROPAGATION_LIMIT_MS, async () => (await token(replica, clientId, created.clientSecret)).status === 401)));
    expect((await token(c, clientId, started.clientSecret)).status).toBe(200);
  });

  it("publish a rotated signing key on every replica within a second", async () => {
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    const bearer = await adminToken(a);
    const { key } = await admin(a).rotateSigningKey({ algorithm: SigningAlgorithm.ES256 }, { headers: { authorization: `Bearer ${bearer}` } });
    await Promise.all(
      [b, c].map((replica) =>
        within(PROPAGATION_LIMIT_MS, async () => {
          const { keys } = (await (await fetch(`${replica.url}/keys`)).json()) as { keys: { kid: string }[] };
          return keys.some((candidate) => candidate.kid === key!.kid);
        }),
      ),
    );
  });
});
