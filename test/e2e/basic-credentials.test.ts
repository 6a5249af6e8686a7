/**
 * client_secret_basic with secrets that form-decoding changes. RFC 6749 §2.3.1 has the client
 * form-encode id and secret before base64, but curl -u and many libraries send them raw, so a
 * secret with "+" (which `openssl rand -base64 32` produces about half the time) or "%" arrived
 * altered and failed. Tessera accepts both forms.
 */
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminApi } from "../support/clients.js";
import { basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";

/** What `curl -u id:secret` sends: no form-encoding. */
function rawBasic(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString("base64")}`;
}

describe("POST /oauth/token, client_secret_basic with a secret holding +, % and /", () => {
  let server: TestServer;
  // "%41" decodes to "A" and "+" to a space, so the decoded and raw forms differ; "%zz" is no
  // percent-encoding at all.
  const decodable = { clientId: "basic-plus", clientSecret: `Qz+7/%41x${randomBytes(30).toString("base64")}` };
  const undecodable = { clientId: "basic-percent", clientSecret: `Qz+7/%zzx${randomBytes(30).toString("base64")}` };

  beforeAll(async () => {
    server = await startTestServer({ storage: "embedded" });
    const auth = { headers: { authorization: `Bearer ${await server.adminToken()}` } };
    for (const client of [decodable, undecodable]) {
      await adminApi(server).importClient({ client: { clientId: client.clientId, name: client.clientId, scopes: ["a"] }, clientSecret: client.clientSecret }, auth);
    }
  });
  afterAll(async () => server?.destroy());

  async function tokenStatus(authorization: string): Promise<number> {
    const response = await fetch(`${server.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization },
      body: "grant_type=client_credentials",
    });
    await response.arrayBuffer();
    return response.status;
  }

  it("issues a token when the credentials are form-encoded, as RFC 6749 §2.3.1 says", async () => {
    expect(await tokenStatus(basicAuthorization(decodable.clientId, decodable.clientSecret))).toBe(200);
    expect(await tokenStatus(basicAuthorization(undecodable.clientId, undecodable.clientSecret))).toBe(200);
  });

  it("issues a token when the credentials are sent raw, as curl -u sends them", async () => {
    expect(await tokenStatus(rawBasic(decodable.clientId, decodable.clientSecret))).toBe(200);
    expect(await tokenStatus(rawBasic(undecodable.clientId, undecodable.clientSecret))).toBe(200);
  });

  it("still answers 401 invalid_client for a wrong secret in either form", async () => {
    const wrong = `${decodable.clientSecret.slice(0, -2)}+%`;
    expect(await tokenStatus(rawBasic(decodable.clientId, wrong))).toBe(401);
    expect(await tokenStatus(basicAuthorization(decodable.clientId, wrong))).toBe(401);
    // The decoded form of the secret is not the secret.
    expect(await tokenStatus(rawBasic(decodable.clientId, decodeURIComponent(decodable.clientSecret.replace(/\+/g, " "))))).toBe(401);
  });

  it("issues a token with client_secret_post, where the body is form-encoded by definition", async () => {
    const response = await fetch(`${server.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: decodable.clientId, client_secret: decodable.clientSecret }),
    });
    expect(response.status).toBe(200);
  });

  it("accepts raw Basic credentials at introspection too", async () => {
    const response = await fetch(`${server.url}/oauth/introspect`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: rawBasic(decodable.clientId, decodable.clientSecret) },
      body: "token=not-a-token",
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ active: false });
  });

  it("refuses two Authorization headers with invalid_request instead of using the first", async () => {
    const body = "grant_type=client_credentials";
    const request = [
      "POST /oauth/token HTTP/1.1",
      `Host: 127.0.0.1:${server.port}`,
      "Content-Type: application/x-www-form-urlencoded",
      `Authorization: ${basicAuthorization(decodable.clientId, decodable.clientSecret)}`,
      `Authorization: ${basicAuthorization(undecodable.clientId, undecodable.clientSecret)}`,
      `Content-Length: ${body.length}`,
      "Connection: close",
      "",
      body,
    ].join("\r\n");
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(server.port, "127.0.0.1", () => socket.end(request));
      let received = "";
      socket.on("data", (chunk: Buffer) => (received += chunk.toString("utf8")));
      socket.once("error", reject);
      socket.once("close", () => resolve(received));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('"error":"invalid_request"');
  });
});

