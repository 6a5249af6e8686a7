/**
 * Client ids outside the id alphabet or length (src/clients/client.ts CLIENT_ID_PATTERN) name no
 * client: every way of presenting one — form, Basic, private_key_jwt, Connect IssueToken, gRPC,
 * introspection — gets invalid_client, and the id is stored nowhere. Stored ids would show as a
 * lockout that the same id reaches after TESSERA_LOCKOUT_THRESHOLD failures, and as heap that
 * grows with the ids sent: 18k requests with 16 KB ids once held 327 MB.
 */
import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";
import http from "node:http";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenService } from "../../src/gen/tessera/v1/token_service_pb.js";
import { MAX_ASSERTION_JTI_LENGTH } from "../../src/oauth/client-authentication/private-key-jwt.js";
import { registerClient } from "../support/clients.js";
import { basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";

const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/** Past the threshold a stored id would be locked out: every attempt must still be a plain 401. */
const ATTEMPTS = 5;

/** Ids that no client can have: too long, outside the alphabet, or both. */
const JUNK_IDS = {
  "15,000 characters": "a".repeat(15_000),
  "129 characters": "b".repeat(129),
  "a space and a bang": "bad id!",
  "non-ASCII": "clïent-é",
  "a NUL byte": "client\u0000id",
  "two characters": "ab",
};

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

async function post(server: TestServer, path: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; error: unknown }> {
  const response = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body,
  });
  const text = await response.text();
  return { status: response.status, error: (JSON.parse(text) as { error?: unknown }).error };
}

describe("client ids outside the id alphabet or length", () => {
  let server: TestServer;
  let assertionKey: CryptoKey;
  beforeAll(async () => {
    server = await startTestServer({ storage: "embedded", env: { TESSERA_LOCKOUT_THRESHOLD: "3" } });
    assertionKey = (await generateKeyPair("ES256")).privateKey;
  });
  afterAll(async () => server?.destroy());

  const assertionFor = (subject: string) =>
    new SignJWT({})
      .setProtectedHeader({ alg: "ES256" })
      .setIssuer(subject)
      .setSubject(subject)
      .setAudience(server.url)
      .setJti(crypto.randomUUID())
      .setExpirationTime("2m")
      .sign(assertionKey);

  it.each(Object.entries(JUNK_IDS))("with %s are invalid_client, never stored, over the form, Basic and private_key_jwt", async (_, clientId) => {
    const basicId = clientId.slice(0, 8_000);
    // Within the gateway's 16 KiB body: the id is also the assertion's iss and sub, in base64url.
    const assertionId = clientId.slice(0, 3_000);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const answers = await Promise.all([
        post(server, "/oauth/token", form({ grant_type: "client_credentials", client_id: clientId, client_secret: "guess" })),
        post(server, "/oauth/token", form({ grant_type: "client_credentials" }), { authorization: basicAuthorization(basicId, "guess") }),
        post(server, "/oauth/introspect", form({ token: "x" }), { authorization: basicAuthorization(basicId, "guess") }),
        post(server, "/oauth/token", form({ grant_type: "client_credentials", client_id: assertionId, client_assertion_type: ASSERTION_TYPE, client_assertion: await assertionFor(assertionId) })),
        post(server, "/oauth/token", form({ grant_type: "client_credentials", client_assertion_type: ASSERTION_TYPE, client_assertion: await assertionFor(assertionId) })),
      ]);
      // A NUL byte in a form body is refused as malformed before anyone looks at credentials.
      const refusedForm = { status: 400, error: "invalid_request" };
      expect(answers).toEqual(answers.map((answer) => (clientId.includes("\u0000") && answer.status === 400 ? refusedForm : { status: 401, error: "invalid_client" })));
    }
  });

  it.each(Object.entries(JUNK_IDS))("with %s are UNAUTHENTICATED, never stored, over Connect IssueToken and gRPC", async (_, junk) => {
    const clientId = junk === JUNK_IDS["15,000 characters"] ? "a".repeat(16_384) : junk;
    const tokens = createClient(TokenService, createGrpcTransport({ baseUrl: server.url }));
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const connect = await fetch(`${server.url}/tessera.v1.TokenService/IssueToken`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ clientId, clientSecret: "guess" }),
      });
      expect([connect.status, ((await connect.json()) as { code: string }).code]).toEqual([401, "unauthenticated"]);
      const grpcError = await tokens.issueToken({ clientId, credential: { case: "clientSecret", value: "guess" } }).catch((error: unknown) => error);
      expect((grpcError as ConnectError).code).toBe(Code.Unauthenticated);
    }
  });
});

describe("a client assertion's jti, kept until the assertion expires", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ storage: "embedded" });
  });
  afterAll(async () => server?.destroy());

  it(`is accepted up to ${MAX_ASSERTION_JTI_LENGTH} characters and refused as invalid_client beyond`, async () => {
    const pair = await generateKeyPair("ES256");
    const keyed = await registerClient(server, { name: "keyed", scopes: ["s"], jwks: { keys: [{ ...(await exportJWK(pair.publicKey)), kid: "k1" }] } });
    const withJti = async (jti: string) =>
      post(
        server,
        "/oauth/token",
        form({
          grant_type: "client_credentials",
          client_assertion_type: ASSERTION_TYPE,
          client_assertion: await new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuer(keyed.clientId).setSubject(keyed.clientId).setAudience(server.url).setJti(jti).setExpirationTime("1m").sign(pair.privateKey),
        }),
      );
    expect((await withJti("j".repeat(MAX_ASSERTION_JTI_LENGTH))).status).toBe(200);
    expect(await withJti("k".repeat(MAX_ASSERTION_JTI_LENGTH + 1))).toEqual({ status: 401, error: "invalid_client" });
    expect(await withJti("l".repeat(8_000))).toEqual({ status: 401, error: "invalid_client" });
  });
});

describe("memory under junk client ids", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ storage: "embedded" });
  });
  afterAll(async () => server?.destroy());

  /** A full collection, through V8's own gc() made reachable for this process. */
  function collectGarbage(): void {
    setFlagsFromString("--expose-gc");
    (runInNewContext("gc") as () => void)();
  }

  function heapUsedAfterCollection(): number {
    collectGarbage();
    collectGarbage();
    return process.memoryUsage().heapUsed;
  }

  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  afterAll(() => agent.destroy());

  function postRaw(path: string, contentType: string, body: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const request = http.request(
        { host: "127.0.0.1", port: server.port, path, method: "POST", agent, headers: { "content-type": contentType, "content-length": Buffer.byteLength(body) } },
        (response) => {
          response.resume();
          response.on("end", () => resolve(response.statusCode ?? 0));
        },
      );
      request.on("error", reject);
      request.end(body);
    });
  }

  /** Half as form posts of 15,000-character ids (the gateway's 16 KiB body cap), half as Connect IssueToken of 16 KiB ids. */
  async function sendJunk(count: number, tag: string): Promise<number[]> {
    const statuses: number[] = [];
    const send = (index: number) => {
      const unique = `${tag}-${index}-`;
      return index % 2 === 0
        ? postRaw("/oauth/token", "application/x-www-form-urlencoded", form({ grant_type: "client_credentials", client_id: unique + "f".repeat(15_000 - unique.length), client_secret: "guess" }))
        : postRaw("/tessera.v1.TokenService/IssueToken", "application/json", JSON.stringify({ clientId: unique + "c".repeat(16_384 - unique.length), clientSecret: "guess" }));
    };
    for (let start = 0; start < count; start += 16) {
      statuses.push(...(await Promise.all(Array.from({ length: Math.min(16, count - start) }, (_, offset) => send(start + offset)))));
    }
    return statuses;
  }

  it("grows the heap by less than 24 MB over 5,000 distinct 16 KB ids (80 MB of ids)", async () => {
    await sendJunk(200, "warm-up");
    const before = heapUsedAfterCollection();
    const statuses = await sendJunk(5_000, "junk");
    const grown = heapUsedAfterCollection() - before;
    expect(new Set(statuses)).toEqual(new Set([401]));
    expect(grown).toBeLessThan(24 * 1024 * 1024);
  }, 120_000);
});
