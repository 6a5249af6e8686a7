/**
 * A client minting and revoking its own tokens cannot fill memory: past 1,000 live revocations
 * (src/oauth/revocation-list.ts MAX_REVOCATIONS_PER_CLIENT) its revocations collapse into one
 * cutoff — every one of its tokens expiring no later than the latest revoked is refused — so
 * tessera_revocations_cached stays bounded, every revoked token stays inactive, and tokens
 * issued afterwards work. A restart arrives at the same answer from the stored revocations.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_REVOCATIONS_PER_CLIENT } from "../../src/oauth/revocation-list.js";
import { clientCredentialsToken, registerClient, type RegisteredClient } from "../support/clients.js";
import { basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";

const REVOKED = MAX_REVOCATIONS_PER_CLIENT + 200;

async function revoke(server: TestServer, client: RegisteredClient, token: string): Promise<number> {
  const response = await fetch(`${server.url}/oauth/revoke`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(client.clientId, client.clientSecret) },
    body: new URLSearchParams({ token }),
  });
  await response.arrayBuffer();
  return response.status;
}

async function active(server: TestServer, bearer: string, token: string): Promise<boolean> {
  const response = await fetch(`${server.url}/oauth/introspect`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Bearer ${bearer}` },
    body: new URLSearchParams({ token }),
  });
  const body = (await response.json()) as { active: boolean };
  if (typeof body.active !== "boolean") throw new Error(`introspection answered ${response.status} ${JSON.stringify(body)}`);
  return body.active;
}

async function revocationsCached(server: TestServer): Promise<number> {
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/^tessera_revocations_cached (\d+)/m.exec(metrics)?.[1]);
}

describe("revocations held in memory, per client", () => {
  let server: TestServer;
  let client: RegisteredClient;
  let bearer: string;
  const revoked: string[] = [];
  beforeAll(async () => {
    server = await startTestServer({ storage: "embedded" });
    client = await registerClient(server, { name: "revoker", scopes: ["s"] });
    bearer = await server.adminToken("tessera:introspect");
    for (let start = 0; start < REVOKED; start += 20) {
      const tokens = await Promise.all(Array.from({ length: 20 }, () => clientCredentialsToken(server, client)));
      expect(await Promise.all(tokens.map((token) => revoke(server, client, token)))).toEqual(tokens.map(() => 200));
      revoked.push(...tokens);
    }
  }, 120_000);
  afterAll(async () => server?.destroy());

  it(`stay at most ${MAX_REVOCATIONS_PER_CLIENT} for a client that revokes ${REVOKED} tokens, and every revoked token stays inactive`, async () => {
    expect(await revocationsCached(server)).toBeLessThanOrEqual(MAX_REVOCATIONS_PER_CLIENT + 1);
    for (const token of [revoked[0]!, revoked[MAX_REVOCATIONS_PER_CLIENT]!, revoked.at(-1)!]) expect(await active(server, bearer, token)).toBe(false);
  });

  it("leave the client's later tokens, and other clients' tokens, active", async () => {
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await active(server, bearer, await clientCredentialsToken(server, client))).toBe(true);
    const other = await registerClient(server, { name: "bystander", scopes: ["s"] });
    expect(await active(server, bearer, await clientCredentialsToken(server, other))).toBe(true);
  });

  it("come back the same after a restart, from the stored revocations", async () => {
    const first = server;
    await first.stop();
    server = await startTestServer({ storage: "embedded", reuse: first, env: { PORT: String(first.port), TESSERA_ISSUER: first.config.issuer } });
    bearer = await server.adminToken("tessera:introspect");
    expect(await revocationsCached(server)).toBeLessThanOrEqual(MAX_REVOCATIONS_PER_CLIENT + 1);
    for (const token of [revoked[0]!, revoked[500]!, revoked.at(-1)!]) expect(await active(server, bearer, token)).toBe(false);
  });
});
