/**
 * Two Tessera processes on one PostgreSQL: a private_key_jwt assertion accepted by one is
 * refused by the other (RFC 7523 §3 item 7, across replicas). The client's keys are published
 * over HTTPS by a server whose certificate only the test CA vouches for, and each process is
 * told to trust that CA the way an operator would, with NODE_EXTRA_CA_CERTS.
 */
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientAdminService } from "../../src/gen/tessera/v1/client_admin_service_pb.js";
import { assertionKey, signClientAssertion, tokenWithAssertion } from "../support/client-assertions.js";
import { startFakeServer, TEST_CA_CERT_PATH, type FakeServer } from "../support/fake-issuer.js";
import { startReplicas, type Replica, type Replicas } from "../support/replicas.js";
import { ADMIN_CLIENT, basicAuthorization } from "../support/test-server.js";

const ISSUER = "http://tessera.assertion-replay.test";

let keys: FakeServer;
let started: Replicas;
let replicas: readonly Replica[];

beforeAll(async () => {
  keys = await startFakeServer();
  started = await startReplicas({ schema: "assertion_replay", count: 2, issuer: ISSUER, env: { NODE_EXTRA_CA_CERTS: TEST_CA_CERT_PATH } });
  replicas = started.replicas;
}, 120_000);

afterAll(async () => {
  await started?.stop();
  await keys?.close();
});

async function adminToken(url: string): Promise<string> {
  const response = await fetch(`${url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(ADMIN_CLIENT.clientId, ADMIN_CLIENT.clientSecret) },
    body: new URLSearchParams({ grant_type: "client_credentials", scope: "tessera:admin" }),
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

describe("a private_key_jwt assertion across replicas", () => {
  it("is accepted once, by whichever replica sees it first, and refused by the other", async () => {
    const [first, second] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
    const key = assertionKey("replica-key");
    keys.json("/jwks", { keys: [key.publicJwk] });
    const admin = createClient(ClientAdminService, createConnectTransport({ baseUrl: first.url, httpVersion: "1.1" }));
    const created = await admin.createClient(
      { name: "replayed", scopes: ["read"], jwksUri: `${keys.origin}/jwks` },
      { headers: { authorization: `Bearer ${await adminToken(first.url)}` } },
    );
    const clientId = created.client!.clientId;

    // The second replica hears of the client through the change feed; fresh assertions until it
    // does (each is new, so none is a replay). Its answer also shows it fetched the keys over
    // HTTPS trusting the CA named by NODE_EXTRA_CA_CERTS.
    let heard = 0;
    for (let attempt = 0; attempt < 50 && heard !== 200; attempt++) {
      heard = (await tokenWithAssertion(second.url, await signClientAssertion({ key, clientId, audience: ISSUER }))).status;
      if (heard !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(heard).toBe(200);

    const assertion = await signClientAssertion({ key, clientId, audience: ISSUER });
    expect((await tokenWithAssertion(first.url, assertion)).status).toBe(200);
    const replay = await tokenWithAssertion(second.url, assertion);
    expect(replay.status).toBe(401);
    expect(replay.body.error).toBe("invalid_client");
    // And back the other way, for an assertion the second replica saw first.
    const other = await signClientAssertion({ key, clientId, audience: ISSUER });
    expect((await tokenWithAssertion(second.url, other)).status).toBe(200);
    expect((await tokenWithAssertion(first.url, other)).status).toBe(401);
  });
});
