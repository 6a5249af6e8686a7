/**
 * Hostile traffic against the real HTTP gateway (Hardening, item 2): generated requests — random
 * methods and paths, garbage and near-miss bodies, malformed credentials, forged JWTs, raw bytes
 * no HTTP client would send — over HTTP/1.1 and h2c, on the embedded database and on PostgreSQL.
 *
 * For every request: an answer arrives (per-request timeout), it is never a 5xx, and every 4xx
 * on /oauth/* is RFC 6749 §5.2 JSON. Forged tokens are never active and never authenticate.
 * Afterwards the server still answers /healthz, and on PostgreSQL no row of any table changed.
 *
 * Budget: TESSERA_FUZZ_RUNS runs per property (default in fuzz-support.ts; 5000 for the long
 * mode). TESSERA_FUZZ_SEED (+ TESSERA_FUZZ_PATH) replays a reported failure.
 */
import http from "node:http";
import http2 from "node:http2";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { FederationService } from "../../src/gen/tessera/v1/federation_service_pb.js";
import { RPC_READ_MAX_BYTES } from "../../src/transport/connect/rpc-handler.js";
import { clientCredentialsToken, registerClient, type RegisteredClient } from "../support/clients.js";
import { ADMIN_CLIENT, STORAGE_KINDS, basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";
import { certificateWorkspace, type CertificateWorkspace, type ClientCertificateFiles } from "../support/mtls.js";
import {
  closeHttpAgent,
  connectH2,
  describeAttempt,
  forgedTokens,
  fuzzParameters,
  headerValue,
  hostileString,
  junkClientId,
  oauthErrorOf,
  pathOf,
  publishedKeys,
  RECURRING_JUNK_CLIENT_IDS,
  runs,
  sendHttp1,
  sendRaw,
  snapshotDatabase,
  tamperedRealTokens,
  timeoutFor,
  type DatabaseFingerprint,
  type ForgeContext,
  type ForgedToken,
  type H2Connection,
  type HttpAnswer,
  type HttpAttempt,
} from "./fuzz-support.js";

const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
/** The one audience the caller's delegation policy lets it ask for. */
const DELEGATION_TARGET = "https://ledger.example";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
const OAUTH_PATHS = ["/oauth/token", "/oauth/introspect", "/oauth/revoke"] as const;
const OTHER_PATHS = [
  "/keys",
  "/.well-known/jwks.json",
  "/.well-known/oauth-authorization-server",
  "/.well-known/openid-configuration",
  "/healthz",
  "/readyz",
  "/metrics",
  "/",
  "/oauth",
  "/oauth/",
  "/tessera.v1.TokenService/IssueToken",
  "/tessera.v1.IntrospectionService/IntrospectToken",
  "/tessera.v1.ClientAdminService/GetClient",
  "/grpc.health.v1.Health/Check",
  "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
];
const PARAMETER_NAMES = [
  "grant_type",
  "client_id",
  "client_secret",
  "scope",
  "resource",
  "audience",
  "refresh_token",
  "client_assertion",
  "client_assertion_type",
  "token",
  "token_type_hint",
  "assertion",
  "subject_token",
  "subject_token_type",
  "actor_token",
  "actor_token_type",
  "requested_token_type",
  "impersonate",
];
/** The grants and types of workload identity federation (RFC 7523, RFC 8693, draft-ietf-oauth-spiffe-client-auth). */
const JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
const SPIFFE_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-spiffe";
const TOKEN_TYPES = ["urn:ietf:params:oauth:token-type:jwt", "urn:ietf:params:oauth:token-type:id_token", "urn:ietf:params:oauth:token-type:access_token", "urn:ietf:params:oauth:token-type:refresh_token"];
/** The only bidi-streaming RPCs served (reflection): HTTP/1.1 callers get 505 from connect-es. */
const BIDI_STREAMING_PATHS = ["/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"];
/** Node's parser refuses request heads above the listener's 16 KiB cap before Tessera sees them. */
const HEADER_CAP_BYTES = 16 * 1024;

/**
 * Requests node's HTTP/1.1 parser (llhttp) refuses before Tessera sees them: a method outside its
 * fixed list, or a head above the listener's cap. The listener answers those with a bare 400 and
 * closes (src/transport/listener.ts, clientError) — there is no OAuth request to answer as JSON.
 */
function parserRejects(attempt: HttpAttempt): boolean {
  return !http.METHODS.includes(attempt.method) || headBytes(attempt) > HEADER_CAP_BYTES - 512;
}

/** What one answer must satisfy. */
function checkAnswer(attempt: HttpAttempt, answer: HttpAnswer): void {
  const context = `${answer.status} ${answer.body.subarray(0, 300).toString("latin1")}\n  for ${describeAttempt(attempt)}`;
  // connect-es refuses a bidi-streaming RPC over HTTP/1.1 with 505 on purpose (it needs HTTP/2,
  // universal-handler.js); that is the protocol's answer, not a server fault.
  if (answer.status === 505 && BIDI_STREAMING_PATHS.includes(pathOf(attempt.path))) return;
  // The Connect and gRPC specifications require UNIMPLEMENTED (Connect: HTTP 501) for a request
  // compressed with an encoding the server does not support; that too is the protocol's answer.
  if (answer.status === 501 && headerOf(attempt, "content-encoding") !== undefined && /"code":"unimplemented"/.test(answer.body.toString("utf8"))) return;
  expect(answer.status, `a 5xx: ${context}`).toBeLessThan(500);
  expect(answer.status, `no status: ${context}`).toBeGreaterThanOrEqual(200);
  if (parserRejects(attempt) && (answer.status === 400 || answer.status === 431) && answer.body.length === 0) return;
  const path = pathOf(attempt.path);
  if (answer.status >= 400 && path.startsWith("/oauth/") && attempt.method !== "HEAD") {
    const error = oauthErrorOf(answer);
    expect(typeof error === "string" ? error : "ok", `not RFC 6749 §5.2 JSON: ${context}`).toBe("ok");
  }
  // RFC 6749 §5.2 / RFC 6750 §3: a 401 names its challenge.
  if (answer.status === 401) expect(answer.headers["www-authenticate"], `401 without WWW-Authenticate: ${context}`).toBeTruthy();
}

function headerOf(attempt: HttpAttempt, name: string): string | undefined {
  const found = Object.entries(attempt.headers).find(([key]) => key.toLowerCase() === name);
  return found === undefined ? undefined : String(found[1]);
}

function headBytes(attempt: HttpAttempt): number {
  let size = attempt.method.length + attempt.path.length + 64;
  for (const [name, value] of Object.entries(attempt.headers)) {
    for (const item of Array.isArray(value) ? value : [value]) size += name.length + String(item).length + 4;
  }
  return size;
}

/** Sends and checks; undefined when the parser refused the request and closed mid-send. */
async function send(port: number, attempt: HttpAttempt): Promise<HttpAnswer | undefined> {
  let answer: HttpAnswer;
  try {
    answer = await sendHttp1(port, attempt);
  } catch (error) {
    // The parser answers an oversized head at once and closes while the client is still writing.
    if (parserRejects(attempt) && /ECONNRESET|EPIPE|socket hang up/.test(String(error))) return undefined;
    throw error;
  }
  checkAnswer(attempt, answer);
  return answer;
}

/** client_secret_basic (RFC 6749 §2.3.1), also for strings encodeURIComponent refuses (lone surrogates). */
function basic(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${encodeFormComponent(clientId)}:${encodeFormComponent(clientSecret)}`).toString("base64")}`;
}

function encodeFormComponent(value: string): string {
  try {
    return encodeURIComponent(value).replace(/%20/g, "+");
  } catch {
    // A lone surrogate: send its UTF-16 code unit as a (non-UTF-8) percent-escape instead.
    return Array.from(value, (char) => (char.length === 1 && char.charCodeAt(0) >= 0xd800 && char.charCodeAt(0) <= 0xdfff ? "%ED%A0%80" : encodeURIComponent(char))).join("");
  }
}

describe.each(STORAGE_KINDS)("the HTTP gateway under generated hostile requests, on %s storage", (storage) => {
  let server: TestServer;
  let h2: H2Connection;
  /** Used only with its right secret, so the lockout never touches it. */
  let introspector: RegisteredClient;
  /** The target of wrong secrets (and so of the lockout). */
  let victim: RegisteredClient;
  let caller: RegisteredClient;
  let keyed: RegisteredClient;
  let adminBearer: string;
  /** Active, for Tessera (aud = issuer), without tessera:introspect or tessera:admin. */
  let unprivilegedBearer: string;
  let forge: ForgeContext;
  let before: DatabaseFingerprint | undefined;
  /** Real tokens for token exchange: C's for the caller (exchangeable), C's for someone else, the caller's own. */
  const exchange = {} as Record<"forCaller" | "forOther" | "callersOwn", string>;
  let subjectOwner: RegisteredClient;
  /** Signed DPoP proofs, right and near-miss, for the `DPoP` header the requests carry. */
  const signedProofs: string[] = [];

  beforeAll(async () => {
    const dpopKey = await generateKeyPair("ES256", { extractable: true });
    const publicJwk = await exportJWK(dpopKey.publicKey);
    const privateJwk = await exportJWK(dpopKey.privateKey);
    for (const [header, claims] of [
      [{ typ: "dpop+jwt", jwk: publicJwk }, { htm: "POST", htu: "http://127.0.0.1/oauth/token" }],
      [{ typ: "dpop+jwt", jwk: privateJwk }, { htm: "POST", htu: "x" }],
      [{ typ: "dpop+jwt", jwk: { kty: "EC" } }, { htm: 1, htu: ["a"] }],
      [{ typ: "dpop+jwt" }, {}],
      [{ typ: "DPOP+JWT", jwk: publicJwk }, { htm: "POST", htu: "http://[::1", jti: "x".repeat(5_000), iat: 1e300 }],
      [{ typ: "dpop+jwt", jwk: publicJwk }, { htm: "POST", htu: "http://127.0.0.1/oauth/token", jti: "\u0000", nonce: "9.x", ath: {} }],
    ] as const) {
      signedProofs.push(await new SignJWT({ jti: "j", iat: Math.floor(Date.now() / 1000), ...claims } as Record<string, unknown>).setProtectedHeader({ alg: "ES256", ...header } as { alg: string }).sign(dpopKey.privateKey));
    }
    server = await startTestServer({ storage });
    introspector = await registerClient(server, { name: "fuzz-introspector", scopes: ["tessera:introspect"] });
    victim = await registerClient(server, { name: "fuzz-victim", scopes: ["orders:read"] });
    caller = await registerClient(server, { name: "fuzz-caller", scopes: ["orders:read", "orders:write"], audiences: ["https://orders.example"] });
    const pair = await generateKeyPair("ES256");
    keyed = await registerClient(server, { name: "fuzz-keyed", scopes: ["orders:read"], jwks: { keys: [{ ...(await exportJWK(pair.publicKey)), kid: "k1" }] } });
    adminBearer = await server.adminToken();
    unprivilegedBearer = await tokenOf(victim);
    // Token exchange (RFC 8693 delegation): the caller may exchange tokens addressed to it toward one target.
    subjectOwner = await registerClient(server, { name: "fuzz-subject", scopes: ["orders:read", "orders:write"], audiences: [caller.clientId, "https://elsewhere.example"] });
    await createClient(FederationService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" })).createDelegationPolicy(
      { delegationPolicy: { clientId: caller.clientId, audiences: [DELEGATION_TARGET], scopes: ["orders:read"] } },
      { headers: { authorization: `Bearer ${adminBearer}` } },
    );
    exchange.forCaller = await subjectOwnerToken(caller.clientId);
    exchange.forOther = await subjectOwnerToken("https://elsewhere.example");
    exchange.callersOwn = await tokenOf(caller);
    const realTokens = [adminBearer, unprivilegedBearer, await tokenOf(caller), await tokenOf(introspector)];
    forge = {
      issuer: server.config.issuer,
      keys: await publishedKeys(server.url),
      clientIds: [victim.clientId, caller.clientId, keyed.clientId, introspector.clientId, ADMIN_CLIENT.clientId],
      realTokens,
    };
    // Forged tokens name Tessera's own issuer: trusted here with its published keys and a policy
    // for one of the subjects they carry, they go through every check of the federated ways in (a
    // real access token is refused there by its typ; anything issued would show as an audit row).
    const federation = createClient(FederationService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }));
    const adminAuth = { headers: { authorization: `Bearer ${adminBearer}` } };
    await federation.createTrustedIssuer({ trustedIssuer: { issuer: server.config.issuer, jwks: { keys: forge.keys.map((key) => key.jwk) as never } } }, adminAuth);
    await federation.createFederationPolicy({ federationPolicy: { issuer: server.config.issuer, clientId: victim.clientId, subject: victim.clientId } }, adminAuth);
    h2 = connectH2(server.port);
    if (server.databaseUrl) before = await snapshotDatabase(server.databaseUrl);
  });
  afterAll(async () => {
    h2?.close();
    closeHttpAgent();
    await server?.destroy();
  });

  const tokenOf = (client: RegisteredClient): Promise<string> => clientCredentialsToken(server, client);

  /** C's token for one audience, by client credentials. */
  async function subjectOwnerToken(audience: string): Promise<string> {
    const response = await fetch(`${server.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(subjectOwner.clientId, subjectOwner.clientSecret) },
      body: new URLSearchParams({ grant_type: "client_credentials", audience }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { access_token: string }).access_token;
  }

  async function expectHealthy(): Promise<void> {
    const answer = await sendHttp1(server.port, { method: "GET", path: "/healthz", headers: {} });
    expect(answer.status).toBe(200);
  }

  // -------------------------------------------------------------------------------------------
  // Generators

  const knownId = () => fc.constantFrom(victim.clientId, caller.clientId, keyed.clientId, ADMIN_CLIENT.clientId);
  const forged = (): fc.Arbitrary<ForgedToken> => fc.oneof(forgedTokens(forge), tamperedRealTokens(forge));

  /** Values a parameter may take: hostile strings, plausible ones, forged JWTs. Never a real token. */
  const parameterValue = () =>
    fc.oneof(
      { weight: 3, arbitrary: hostileString() },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          "client_credentials", "refresh_token", "password", JWT_BEARER_GRANT, TOKEN_EXCHANGE_GRANT, ASSERTION_TYPE, SPIFFE_ASSERTION_TYPE, ...TOKEN_TYPES,
          "orders:read", "https://orders.example", "access_token", TOKEN_EXCHANGE, ACCESS_TOKEN_TYPE, "urn:ietf:params:oauth:token-type:refresh_token", "true",
        ),
      },
      { weight: 1, arbitrary: knownId() },
      { weight: 1, arbitrary: forged().map((forgery) => forgery.token) },
    );

  const parameterName = () => fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...PARAMETER_NAMES) }, { weight: 1, arbitrary: hostileString(16) });

  /** A form body: pairs (names may repeat), each encoded properly, raw, or with broken escapes. */
  const formBody = () =>
    fc
      .array(fc.tuple(parameterName(), parameterValue(), fc.constantFrom("encoded", "encoded", "raw", "broken", "name-only")), { maxLength: 10 })
      .chain((pairs) =>
        fc.constantFrom("&", "&", ";", "&&").map((separator) =>
          Buffer.from(
            pairs
              .map(([name, value, how]) => {
                if (how === "name-only") return encodeFormComponent(name);
                if (how === "raw") return `${name}=${value}`;
                if (how === "broken") return `${encodeFormComponent(name)}=${encodeFormComponent(value).replace(/%([0-9A-F])/, "%Z$1")}%`;
                return `${encodeFormComponent(name)}=${encodeFormComponent(value)}`;
              })
              .join(separator),
            "utf8",
          ),
        ),
      );

  const deepJson = () =>
    fc.tuple(fc.integer({ min: 1, max: 9_000 }), fc.constantFrom("[", "{\"a\":")).map(([depth, open]) => {
      const close = open === "[" ? "]" : "}";
      return Buffer.from(`{"grant_type":${open.repeat(depth)}1${close.repeat(depth)}}`);
    });

  const jsonBody = () =>
    fc.oneof(
      fc
        .dictionary(parameterName(), fc.oneof(parameterValue(), fc.array(parameterValue(), { maxLength: 3 }), fc.jsonValue({ maxDepth: 3 })), { maxKeys: 8 })
        .map((object) => Buffer.from(JSON.stringify(object))),
      fc.jsonValue().map((value) => Buffer.from(JSON.stringify(value) ?? "null")),
      deepJson(),
      fc.constantFrom(
        Buffer.from("{"),
        Buffer.from('{"grant_type":"client_credentials",}'),
        Buffer.from('{"grant_type":"client_credentials","grant_type":"client_credentials"}'),
        Buffer.from('\uFEFF{"grant_type":"client_credentials"}'),
        Buffer.from('{"grant_type":"client_credentials"}', "utf16le"),
        Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]),
        Buffer.from('{"__proto__":{"grant_type":"client_credentials"},"constructor":{"prototype":{"x":1}}}'),
        Buffer.from(`{"grant_type":"client_credentials","scope":"${"a ".repeat(7_000)}"}`),
        Buffer.from(`[${"1,".repeat(7_000)}1]`),
      ),
    );

  const garbageBody = () =>
    fc.oneof(
      { weight: 4, arbitrary: fc.uint8Array({ maxLength: 2_048 }).map((bytes) => Buffer.from(bytes)) },
      { weight: 1, arbitrary: fc.integer({ min: 16_000, max: 300_000 }).map((size) => Buffer.alloc(size, 0x61)) },
      { weight: 1, arbitrary: fc.constantFrom(Buffer.from([0]), Buffer.from("\u0000\u0000"), Buffer.from([0xff, 0xfe, 0xfd])) },
    );

  const body = () => fc.oneof({ weight: 3, arbitrary: formBody() }, { weight: 2, arbitrary: jsonBody() }, { weight: 2, arbitrary: garbageBody() });

  const contentType = () =>
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom("application/x-www-form-urlencoded", "application/json") },
      {
        weight: 3,
        arbitrary: fc.constantFrom(
          "application/x-www-form-urlencoded; charset=utf-8",
          "application/x-www-form-urlencoded; charset=latin1",
          "APPLICATION/JSON",
          "application/json;;;",
          " application/json ; x=y",
          "application/json, application/x-www-form-urlencoded",
          "text/plain",
          "multipart/form-data; boundary=xyz",
          "application/jwt",
          "application/proto",
          "application/grpc",
          "*/*",
          "",
          ";",
        ),
      },
      { weight: 1, arbitrary: headerValue(80) },
      { weight: 1, arbitrary: fc.constant<string[]>(["application/json", "application/x-www-form-urlencoded"]) },
    );

  /** Malformed and near-miss Authorization values. Never a valid admin token. */
  const authorization = () =>
    fc.oneof(
      { weight: 2, arbitrary: fc.tuple(knownId(), fc.oneof(hostileString(), fc.constant(caller.clientSecret))).map(([id, secret]) => basic(id, secret)) },
      { weight: 1, arbitrary: fc.tuple(hostileString(), hostileString()).map(([id, secret]) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => `Basic ${Buffer.from(bytes).toString("base64")}`) },
      { weight: 1, arbitrary: headerValue(80).map((value) => `Basic ${value}`) },
      { weight: 1, arbitrary: fc.constantFrom("Basic", "Basic ", "Basic ====", "Basic Og==", "Basic YTo=", "Basic OmI=", "basic  YTpi  ", "Basic YTpi YTpi", "Basic %%%") },
      { weight: 1, arbitrary: forged().map((forgery) => `Bearer ${forgery.token}`) },
      { weight: 1, arbitrary: headerValue(120).map((value) => `Bearer ${value}`) },
      { weight: 1, arbitrary: fc.constantFrom("Bearer", "Bearer ", "Bearer =", "Bearer a=b", "Digest x", "Negotiate YII=", "DPoP abc", "Bearer\tabc") },
      { weight: 1, arbitrary: fc.constant(`Bearer ${"A".repeat(17_000)}`) },
      { weight: 1, arbitrary: fc.constant("__unprivileged__") },
      { weight: 1, arbitrary: fc.constant<string[]>(["Basic YTpi", "Bearer abc"]) },
    );

  const extraHeaders = () =>
    fc.dictionary(
      fc.oneof(
        fc.constantFrom("x-request-id", "content-encoding", "accept", "accept-charset", "origin", "forwarded", "x-forwarded-for", "if-none-match", "expect", "te", "cookie", "connect-protocol-version", "grpc-timeout", "x-padding"),
        fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
      ),
      fc.oneof(headerValue(), fc.constantFrom("gzip", "br", "deflate", "identity", "100-continue", "1", "9999999999S", "trailers", '"*"', "a".repeat(20_000))),
      { maxKeys: 5 },
    );

  /** Hostile `DPoP` headers (RFC 9449 §4): junk, unsigned and near-miss proofs, several at once. */
  const dpopHeader = () =>
    fc.oneof(
      { weight: 2, arbitrary: fc.constantFrom(...signedProofs) },
      { weight: 1, arbitrary: headerValue(200) },
      {
        weight: 2,
        arbitrary: fc
          .tuple(fc.jsonValue({ maxDepth: 2 }), fc.jsonValue({ maxDepth: 2 }), fc.constantFrom("", "sig", "AAAA"))
          .map(([header, payload, signature]) => `${Buffer.from(JSON.stringify(header) ?? "null").toString("base64url")}.${Buffer.from(JSON.stringify(payload) ?? "null").toString("base64url")}.${signature}`),
      },
      { weight: 1, arbitrary: fc.constantFrom('{"alg":"none"}', "a.b.c", "..", ".", "eyJ.eyJ.", `${"A".repeat(9_000)}.B.C`) },
      { weight: 1, arbitrary: fc.constant<string[]>(["a.b.c", "d.e.f"]) },
    );

  const resolveAuthorization = (value: string | string[]) => (value === "__unprivileged__" ? `Bearer ${unprivilegedBearer}` : value);

  /** A well-formed HTTP request to an /oauth/* endpoint with hostile content. */
  const oauthAttempt = (): fc.Arbitrary<HttpAttempt> =>
    fc
      .record({
        path: fc.oneof(fc.constantFrom(...OAUTH_PATHS), fc.tuple(fc.constantFrom(...OAUTH_PATHS), fc.constantFrom("?", "?a=1&a=2", "?grant_type=client_credentials", "?token=x&client_secret=y")).map(([p, q]) => p + q)),
        contentType: fc.option(contentType(), { nil: undefined }),
        authorization: fc.option(authorization(), { nil: undefined }),
        dpop: fc.option(dpopHeader(), { nil: undefined, freq: 3 }),
        extra: extraHeaders(),
        body: body(),
        declareLength: fc.boolean(),
      })
      .map(({ path, contentType: type, authorization: auth, dpop, extra, body: payload, declareLength }) => {
        const headers: Record<string, string | string[]> = { ...extra };
        if (dpop !== undefined) headers.dpop = dpop;
        if (type !== undefined) headers["content-type"] = type;
        if (auth !== undefined) headers.authorization = resolveAuthorization(auth);
        // Without a declared length node sends the body chunked: both framings reach the cap check.
        if (declareLength) headers["content-length"] = String(payload.length);
        delete headers.expect;
        return { method: "POST", path, headers, body: payload };
      });

  // -------------------------------------------------------------------------------------------
  // Properties

  it(
    "answers random methods and paths without a 5xx, and 4xx on /oauth/* as RFC 6749 §5.2 JSON",
    async () => {
      const latin1Path = fc
        .array(fc.integer({ min: 0x21, max: 0xff }), { minLength: 1, maxLength: 80 })
        .map((codes) => `/${String.fromCharCode(...codes)}`);
      const path = fc.oneof(
        fc.constantFrom(...OAUTH_PATHS, ...OTHER_PATHS),
        fc.tuple(fc.constantFrom(...OAUTH_PATHS, ...OTHER_PATHS), fc.constantFrom("/", "//", "/..", "%2F", "%00", ";x=1", "?", "?x=%ZZ", "#f", ".json", "/../../keys", "?" + "a=1&".repeat(2_000))).map(([p, s]) => p + s),
        fc.constantFrom("*", "//oauth/token", "/OAUTH/TOKEN", "/oauth/token/.", "/oauth%2Ftoken", "http://127.0.0.1/oauth/token", "http://evil.example/keys", "/%", "/" + "a".repeat(20_000)),
        latin1Path,
      );
      const method = fc.oneof(
        { weight: 5, arbitrary: fc.constantFrom("GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS") },
        { weight: 2, arbitrary: fc.constantFrom("TRACE", "PROPFIND", "MKCOL", "M-SEARCH", "PURGE", "post", "get", "Get") },
        { weight: 1, arbitrary: fc.stringMatching(/^[A-Z][A-Z0-9!#$%&'*+.^_`|~-]{0,15}$/) },
      );
      await fc.assert(
        fc.asyncProperty(
          method,
          path,
          fc.option(contentType(), { nil: undefined }),
          fc.option(authorization(), { nil: undefined }),
          extraHeaders(),
          fc.option(body(), { nil: undefined }),
          async (verb, target, type, auth, extra, payload) => {
            const headers: Record<string, string | string[]> = { ...extra };
            delete headers.expect;
            if (type !== undefined) headers["content-type"] = type;
            if (auth !== undefined) headers.authorization = resolveAuthorization(auth);
            const withBody = payload !== undefined && verb !== "GET" && verb !== "HEAD";
            await send(server.port, { method: verb, path: target, headers, body: withBody ? payload : undefined });
          },
        ),
        fuzzParameters(runs()),
      );
      await expectHealthy();
    },
    timeoutFor(runs()),
  );

  it(
    "answers generated token, introspection and revocation requests without a 5xx, as RFC 6749 §5.2 JSON when refused",
    async () => {
      await fc.assert(
        fc.asyncProperty(oauthAttempt(), async (attempt) => {
          const answer = await send(server.port, attempt);
          if (!answer) return;
          if (answer.status === 200 && pathOf(attempt.path) === "/oauth/token") {
            const issued = JSON.parse(answer.body.toString("utf8")) as { access_token: string };
            expect(issued, describeAttempt(attempt)).toMatchObject({ access_token: expect.any(String), token_type: "Bearer" });
            // Only the caller's own secret is ever generated: a token for anyone else is an authentication bypass.
            const claims = JSON.parse(Buffer.from(issued.access_token.split(".")[1]!, "base64url").toString("utf8")) as { client_id: string };
            expect(claims.client_id, describeAttempt(attempt)).toBe(caller.clientId);
          }
          if (answer.status === 200 && pathOf(attempt.path) === "/oauth/introspect") {
            expect(JSON.parse(answer.body.toString("utf8")), `a generated token is active: ${describeAttempt(attempt)}`).toEqual({ active: false });
          }
        }),
        fuzzParameters(runs()),
      );
      await expectHealthy();
    },
    timeoutFor(runs()),
  );

  it(
    "exchanges real and forged subject and actor tokens with generated parameters without a 5xx, never issuing more than the subject token and the policy allow",
    async () => {
      // Each part is mostly what a valid exchange sends, so that runs mix valid requests with ones
      // a single part spoils; otherwise the issuing path would almost never be reached.
      const mostly = <T>(valid: T, other: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: fc.constant(valid) }, { weight: 1, arbitrary: other });
      const token = () =>
        fc.oneof(
          fc.constantFrom(exchange.forCaller, exchange.forOther, exchange.callersOwn),
          forged().map((forgery) => forgery.token),
          hostileString(),
          fc.constantFrom(exchange.forCaller.slice(0, -2), `${exchange.forCaller}.x`, ""),
        );
      const tokenType = () => fc.oneof(fc.constantFrom<string | undefined>(undefined, ACCESS_TOKEN_TYPE, "urn:ietf:params:oauth:token-type:jwt", "urn:ietf:params:oauth:token-type:refresh_token", ""), hostileString(40));
      const exchangeRequest = fc.record({
        fields: fc.record({
          subject_token: mostly<string | undefined>(exchange.forCaller, fc.option(token(), { nil: undefined })),
          subject_token_type: mostly<string | undefined>(ACCESS_TOKEN_TYPE, tokenType()),
          actor_token: mostly<string | undefined>(undefined, token()),
          actor_token_type: mostly<string | undefined>(undefined, tokenType()),
          requested_token_type: mostly<string | undefined>(undefined, tokenType()),
          impersonate: mostly<string | undefined>(undefined, fc.oneof(fc.constantFrom("true", "false", "TRUE", "1"), hostileString(8))),
          scope: mostly<string | undefined>(undefined, fc.oneof(fc.constantFrom("orders:read", "orders:write", "orders:read orders:write", "tessera:admin", ""), hostileString(40))),
        }),
        audiences: mostly([DELEGATION_TARGET], fc.array(fc.oneof(fc.constantFrom(DELEGATION_TARGET, "https://orders.example", caller.clientId, server.config.issuer), hostileString(40)), { maxLength: 3 })),
        audienceName: fc.constantFrom("resource", "audience"),
        encoding: fc.constantFrom("form", "json"),
        who: mostly<"caller" | "none" | "subject-owner">("caller", fc.constantFrom("none", "subject-owner")),
      });
      type ExchangeRequest = typeof exchangeRequest extends fc.Arbitrary<infer T> ? T : never;
      const validExchange: ExchangeRequest = {
        fields: {
          subject_token: exchange.forCaller,
          subject_token_type: ACCESS_TOKEN_TYPE,
          actor_token: undefined,
          actor_token_type: undefined,
          requested_token_type: undefined,
          impersonate: undefined,
          scope: undefined,
        },
        audiences: [DELEGATION_TARGET],
        audienceName: "audience",
        encoding: "form",
        who: "caller",
      };
      let issuedCount = 0;
      await fc.assert(
        fc.asyncProperty(exchangeRequest, async ({ fields, audiences, audienceName, encoding, who }) => {
          const parameters: Record<string, string | string[]> = { grant_type: TOKEN_EXCHANGE };
          for (const [name, value] of Object.entries(fields)) if (value !== undefined) parameters[name] = value;
          if (audiences.length > 0) parameters[audienceName] = audiences.length === 1 ? audiences[0]! : audiences;
          const headers: Record<string, string> = { "content-type": encoding === "json" ? "application/json" : "application/x-www-form-urlencoded" };
          if (who === "caller") headers.authorization = basicAuthorization(caller.clientId, caller.clientSecret);
          if (who === "subject-owner") headers.authorization = basicAuthorization(subjectOwner.clientId, subjectOwner.clientSecret);
          const form = new URLSearchParams();
          // URLSearchParams writes a lone surrogate as U+FFFD, as a browser would.
          for (const [name, value] of Object.entries(parameters)) for (const item of Array.isArray(value) ? value : [value]) form.append(name, item);
          const attempt: HttpAttempt = { method: "POST", path: "/oauth/token", headers, body: Buffer.from(encoding === "json" ? JSON.stringify(parameters) : form.toString()) };
          const answer = await send(server.port, attempt);
          if (!answer || answer.status !== 200) return;
          issuedCount++;
          // Only C's token for the caller, exchanged by the caller, may ever succeed, and only within the policy.
          const issued = JSON.parse(answer.body.toString("utf8")) as { access_token: string; issued_token_type: string; scope?: string };
          const claims = JSON.parse(Buffer.from(issued.access_token.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
          const context = describeAttempt(attempt);
          expect(who, context).toBe("caller");
          expect(fields.subject_token, context).toBe(exchange.forCaller);
          expect(issued.issued_token_type, context).toBe(ACCESS_TOKEN_TYPE);
          expect(claims, context).toMatchObject({ sub: subjectOwner.clientId, client_id: caller.clientId, aud: DELEGATION_TARGET, scope: "orders:read", act: { sub: caller.clientId } });
        }),
        // A valid exchange always runs, so the checks on what is issued never go unexercised.
        fuzzParameters<[ExchangeRequest]>(runs(0.5), { examples: [[validExchange]] }),
      );
      expect(issuedCount).toBeGreaterThan(0);
      console.info(`token exchanges issued by this run: ${issuedCount}`);
      await expectHealthy();
    },
    timeoutFor(runs(0.5)),
  );

  it(
    "authenticates or refuses any client id and secret, in any of the three places they travel, without a 5xx",
    async () => {
      // Every run carries a hostile id or secret, so the paths from the credentials to the client
      // registry (and, for an unknown id, to the database) see NUL bytes, lone surrogates and
      // megabyte-long values every time — not once in a few hundred runs.
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...OAUTH_PATHS),
          fc.constantFrom("basic", "basic-raw", "post-form", "post-json"),
          fc.oneof(hostileString(), knownId()),
          fc.oneof(hostileString(), fc.constant(caller.clientSecret)),
          async (path, where, clientId, clientSecret) => {
            const parameters: Record<string, string> = path === "/oauth/token" ? { grant_type: "client_credentials" } : { token: "not-a-token" };
            const headers: Record<string, string> = { "content-type": where === "post-json" ? "application/json" : "application/x-www-form-urlencoded" };
            if (where === "basic") headers.authorization = basic(clientId, clientSecret);
            // RFC 6749 §2.3.1 says to form-encode first; plenty of clients do not.
            if (where === "basic-raw") headers.authorization = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString("base64")}`;
            if (where.startsWith("post")) Object.assign(parameters, { client_id: clientId, client_secret: clientSecret });
            const payload = where === "post-json" ? JSON.stringify(parameters) : Object.entries(parameters).map(([n, v]) => `${n}=${encodeFormComponent(v)}`).join("&");
            const answer = await send(server.port, { method: "POST", path, headers, body: Buffer.from(payload) });
            if (answer?.status === 200 && path === "/oauth/token") expect(clientId).toBe(caller.clientId);
          },
        ),
        fuzzParameters(runs(), {
          // A known failure (a NUL byte in a Basic client id), pinned so the property stays red until fixed.
          examples: [["/oauth/token", "basic", "a\u0000b", "secret"]],
        }),
      );
      await expectHealthy();
    },
    timeoutFor(runs()),
  );

  it(
    "refuses client ids outside the id alphabet or length as invalid_client wherever they travel, however often, and stores none of them",
    async () => {
      // The recurring ids come back far more often than the lockout threshold: a stored id would
      // turn into a lockout (429); an id that is never stored stays a plain invalid_client.
      const assertionKey = (await generateKeyPair("ES256")).privateKey;
      const assertionFor = (subject: string) =>
        new SignJWT({}).setProtectedHeader({ alg: "ES256" }).setIssuer(subject).setSubject(subject).setAudience(server.config.issuer).setJti(crypto.randomUUID()).setExpirationTime("1m").sign(assertionKey);
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...OAUTH_PATHS),
          fc.constantFrom("basic", "post-form", "post-json", "assertion"),
          fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...RECURRING_JUNK_CLIENT_IDS) }, { weight: 1, arbitrary: junkClientId() }),
          async (path, where, junkId) => {
            // Inside the 16 KiB head and body caps: the assertion carries the id three times.
            const clientId = where === "assertion" ? junkId.slice(0, 3_000) : junkId.slice(0, 10_000);
            const parameters: Record<string, string> = path === "/oauth/token" ? { grant_type: "client_credentials" } : { token: "not-a-token" };
            const headers: Record<string, string> = { "content-type": where === "post-json" ? "application/json" : "application/x-www-form-urlencoded" };
            if (where === "basic") headers.authorization = basic(clientId, "a-wrong-secret");
            if (where === "post-form" || where === "post-json") Object.assign(parameters, { client_id: clientId, client_secret: "a-wrong-secret" });
            if (where === "assertion") Object.assign(parameters, { client_id: clientId, client_assertion_type: ASSERTION_TYPE, client_assertion: await assertionFor(clientId) });
            const payload = where === "post-json" ? JSON.stringify(parameters) : Object.entries(parameters).map(([n, v]) => `${n}=${encodeFormComponent(v)}`).join("&");
            const attempt: HttpAttempt = { method: "POST", path, headers, body: Buffer.from(payload) };
            const answer = await send(server.port, attempt);
            if (!answer) return;
            const refusal = { status: answer.status, error: (oauthErrorOf(answer) as { error?: string }).error };
            // A body the parser refuses (a NUL byte, a lone surrogate) never reaches authentication.
            expect([{ status: 401, error: "invalid_client" }, { status: 400, error: "invalid_request" }], describeAttempt(attempt)).toContainEqual(refusal);
          },
        ),
        fuzzParameters(runs()),
      );
      await expectHealthy();
    },
    timeoutFor(runs()),
  );

  it(
    "never calls a forged JWT active, and never lets one authenticate (alg none, HS256 keyed with our public key, crit, typ, kid, splicing)",
    async () => {
      type Caller = "admin-bearer" | "introspector-basic" | "introspector-post" | "forged-bearer" | "nobody";
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom("/oauth/introspect", "/oauth/revoke"),
          fc.constantFrom<Caller>("admin-bearer", "introspector-basic", "introspector-post", "forged-bearer", "nobody"),
          forged(),
          forged(),
          fc.constantFrom("form", "json"),
          fc.option(fc.constantFrom("access_token", "refresh_token", "id_token", "urn:x", ""), { nil: undefined }),
          async (path, who, forgery, bearerForgery, encoding, hint) => {
            const parameters: Record<string, string> = { token: forgery.token };
            if (hint !== undefined) parameters.token_type_hint = hint;
            const headers: Record<string, string> = { "content-type": encoding === "json" ? "application/json" : "application/x-www-form-urlencoded" };
            if (who === "admin-bearer") headers.authorization = `Bearer ${adminBearer}`;
            if (who === "introspector-basic") headers.authorization = basicAuthorization(introspector.clientId, introspector.clientSecret);
            if (who === "introspector-post") Object.assign(parameters, { client_id: introspector.clientId, client_secret: introspector.clientSecret });
            if (who === "forged-bearer") headers.authorization = `Bearer ${bearerForgery.token}`;
            const payload = Buffer.from(encoding === "json" ? JSON.stringify(parameters) : new URLSearchParams(parameters).toString());
            const attempt: HttpAttempt = { method: "POST", path, headers, body: payload };
            const answer = (await send(server.port, attempt))!;
            const context = `${answer.status} ${answer.body.toString("utf8").slice(0, 200)} — token: ${forgery.recipe}; bearer: ${bearerForgery.recipe}; ${describeAttempt(attempt)}`;
            if (who === "forged-bearer" || who === "nobody") {
              expect(answer.status, `a forged bearer token authenticated: ${context}`).not.toBe(200);
              // 431: an oversized forged bearer token overflows the header cap before any route runs.
              expect([400, 401, 403, 413, 431], context).toContain(answer.status);
              return;
            }
            if (answer.status === 413) return;
            expect(answer.status, context).toBe(200);
            if (path === "/oauth/introspect") expect(JSON.parse(answer.body.toString("utf8")), `a forged token is active: ${context}`).toEqual({ active: false });
            else expect(answer.body.length, context).toBe(0);
          },
        ),
        fuzzParameters(runs()),
      );
      await expectHealthy();
    },
    timeoutFor(runs()),
  );

  it(
    "refuses forged client assertions (private_key_jwt) without a 5xx",
    async () => {
      await fc.assert(
        fc.asyncProperty(forged(), fc.option(knownId(), { nil: undefined }), fc.constantFrom(ASSERTION_TYPE, "", "urn:other", `${ASSERTION_TYPE}\u0000`), async (forgery, clientId, assertionType) => {
          const parameters: Record<string, string> = { grant_type: "client_credentials", client_assertion: forgery.token, client_assertion_type: assertionType };
          if (clientId !== undefined) parameters.client_id = clientId;
          const attempt: HttpAttempt = {
            method: "POST",
            path: "/oauth/token",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: Buffer.from(new URLSearchParams(parameters).toString()),
          };
          const answer = (await send(server.port, attempt))!;
          expect(answer.status, `a forged assertion was accepted: ${forgery.recipe}`).not.toBe(200);
        }),
        fuzzParameters(runs(0.5)),
      );
      await expectHealthy();
    },
    timeoutFor(runs(0.5)),
  );

  it("sends forgeries through the federated checks: a real access token of the trusted issuer is refused by its typ", async () => {
    const attempt: HttpAttempt = {
      method: "POST",
      path: "/oauth/token",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: Buffer.from(new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion: unprivilegedBearer }).toString()),
    };
    const answer = (await send(server.port, attempt))!;
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body.toString("utf8"))).toEqual({ error: "invalid_grant", error_description: "the assertion is an access token" });
  });

  it(
    "refuses forged external assertions (jwt-bearer grant, token exchange, federated client authentication) without a 5xx",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          forged(),
          fc.option(knownId(), { nil: undefined }),
          fc.constantFrom("jwt-bearer", "token-exchange", "client-assertion", "spiffe"),
          fc.constantFrom(...TOKEN_TYPES, "", "urn:other"),
          fc.option(hostileString(), { nil: undefined }),
          async (forgery, clientId, way, tokenType, actor) => {
            const parameters: Record<string, string> =
              way === "jwt-bearer"
                ? { grant_type: JWT_BEARER_GRANT, assertion: forgery.token }
                : way === "token-exchange"
                  ? { grant_type: TOKEN_EXCHANGE_GRANT, subject_token: forgery.token, subject_token_type: tokenType, ...(actor === undefined ? {} : { actor_token: actor, actor_token_type: tokenType }) }
                  : { grant_type: "client_credentials", client_assertion: forgery.token, client_assertion_type: way === "spiffe" ? SPIFFE_ASSERTION_TYPE : ASSERTION_TYPE };
            if (clientId !== undefined) parameters.client_id = clientId;
            const attempt: HttpAttempt = {
              method: "POST",
              path: "/oauth/token",
              headers: { "content-type": "application/x-www-form-urlencoded" },
              body: Buffer.from(new URLSearchParams(parameters).toString()),
            };
            const answer = (await send(server.port, attempt))!;
            expect(answer.status, `a forged external assertion was accepted: ${forgery.recipe}`).not.toBe(200);
          },
        ),
        fuzzParameters(runs(0.5)),
      );
      await expectHealthy();
    },
    timeoutFor(runs(0.5)),
  );

  it(
    "answers the same hostile /oauth/* requests over h2c without a 5xx",
    async () => {
      // HTTP/2 forbids connection-specific headers; node's client refuses them before sending.
      const h2Safe = (attempt: HttpAttempt): HttpAttempt => {
        const headers = { ...attempt.headers };
        for (const name of ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "host"]) delete headers[name];
        // Node's HTTP/2 client sends content-type and authorization once at most.
        for (const [name, value] of Object.entries(headers)) if (Array.isArray(value)) headers[name] = value[0] ?? "";
        return { ...attempt, headers };
      };
      await fc.assert(
        fc.asyncProperty(oauthAttempt().map(h2Safe), async (attempt) => {
          let answer: HttpAnswer;
          try {
            answer = await h2.send(attempt);
          } catch (error) {
            // A stream the server resets for exceeding its HTTP/2 header limits is an answer too.
            if (headBytes(attempt) > HEADER_CAP_BYTES - 512 && /RST|NGHTTP2|stream/i.test(String(error))) return;
            throw error;
          }
          checkAnswer(attempt, answer);
        }),
        fuzzParameters(runs(0.5)),
      );
      await expectHealthy();
    },
    timeoutFor(runs(0.5)),
  );

  it(
    "answers malformed HTTP/1.1 on the wire (bad request lines, header bytes, framing) with a 4xx or a closed connection, never a 5xx",
    async () => {
      const crlf = fc.constantFrom("\r\n", "\r\n", "\r\n", "\n");
      const requestLine = fc.oneof(
        fc.tuple(fc.constantFrom("POST", "GET", "PUT", "post", "P\u0000ST", "GET /", ""), fc.constantFrom(...OAUTH_PATHS, "/keys", "*", "/oauth/token\u0000", "/oauth/to ken", "/\u00ff\u00fe", "http://x/oauth/token"), fc.constantFrom("HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/9.9", "http/1.1", "HTTP/1.1 extra", ""))
          .map(([m, p, v]) => `${m} ${p} ${v}`),
        fc.constantFrom("CONNECT 127.0.0.1:1 HTTP/1.1", "OPTIONS * HTTP/1.1", "PRI * HTTP/2.0", "POST  /oauth/token  HTTP/1.1", "POST\t/oauth/token\tHTTP/1.1"),
        fc.uint8Array({ minLength: 1, maxLength: 60 }).map((bytes) => Buffer.from(bytes.filter((b) => b !== 10 && b !== 13)).toString("latin1")),
      );
      const headerLine = fc.oneof(
        fc.tuple(fc.constantFrom("content-type", "authorization", "x-a", "content-length", "transfer-encoding", "host", "expect"), headerValue(60)).map(([n, v]) => `${n}: ${v}`),
        fc.constantFrom(
          "content-length: 5",
          "content-length: -1",
          "content-length: +5",
          "content-length: 0x10",
          "content-length: 99999999999999999999",
          "transfer-encoding: chunked",
          "transfer-encoding: gzip, chunked",
          "transfer-encoding: chunked, identity",
          " folded: continuation",
          "no-colon-here",
          ": empty-name",
          "bad name: x",
          "x-nul: a\u0000b",
          "x-ctl: a\u0001b",
          "authorization: Basic \u00ff\u00fe",
          "content-type: application/x-www-form-urlencoded",
          "content-type: application/json",
          "expect: 100-continue",
          "upgrade: h2c",
          "upgrade: websocket",
          "x-big: " + "a".repeat(17_000),
        ),
      );
      const bodyPart = fc.oneof(
        fc.constant(""),
        fc.constantFrom("grant_type=client_credentials", "5\r\nhello\r\n0\r\n\r\n", "zz\r\nhello\r\n0\r\n\r\n", "ffffffffffffffff\r\nx\r\n", "0\r\n\r\n", '{"grant_type":"client_credentials"}'),
        fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString("latin1")),
      );
      await fc.assert(
        fc.asyncProperty(requestLine, fc.array(headerLine, { maxLength: 8 }), crlf, bodyPart, async (line, headerLines, eol, payload) => {
          const wire = Buffer.from(`${line}${eol}host: 127.0.0.1${eol}connection: close${eol}${headerLines.map((h) => `${h}${eol}`).join("")}${eol}${payload}`, "latin1");
          const outcome = await sendRaw(server.port, wire);
          const shown = JSON.stringify(wire.subarray(0, 400).toString("latin1"));
          if (outcome.kind === "closed") {
            // Without a 'connect' listener node drops CONNECT, and a request it cannot frame
            // (a chunked body cut short) may end with the connection: neither is a 5xx or a hang.
            return;
          }
          expect(outcome.status, `a 5xx for ${shown}`).toBeLessThan(500);
          const target = line.split(/[ \t]+/)[1] ?? "";
          if (outcome.status >= 400 && outcome.body.length > 0 && pathOf(target).startsWith("/oauth/")) {
            const error = oauthErrorOf(outcome);
            expect(typeof error === "string" ? error : "ok", `not RFC 6749 §5.2 JSON: ${outcome.status} ${outcome.body.toString("latin1").slice(0, 200)} for ${shown}`).toBe("ok");
          }
        }),
        fuzzParameters(runs(0.5)),
      );
      await expectHealthy();
    },
    timeoutFor(runs(0.5)),
  );

  it("still answers /healthz and a real token request afterwards, and wrote no row", async () => {
    await expectHealthy();
    const answer = await sendHttp1(server.port, {
      method: "POST",
      path: "/oauth/token",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(introspector.clientId, introspector.clientSecret) },
      body: Buffer.from("grant_type=client_credentials"),
    });
    expect(answer.status).toBe(200);
    if (!server.databaseUrl) return;
    const after = await snapshotDatabase(server.databaseUrl);
    expect(after.tables).toEqual(before!.tables);
  });
});

// Transport behaviour, the same on both storages: run once, on the embedded default.
describe("the HTTP/2 transport under refused bodies", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ storage: "embedded" });
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it(
    "answers invented HTTP/2 methods with a standard refusal and gives them no /metrics series of their own",
    async () => {
      const seriesOf = async () =>
        (await (await fetch(`${server.url}/metrics`)).text()).split("\n").filter((line) => line.startsWith("tessera_http_requests_total{"));
      const before = await seriesOf();
      const connection = connectH2(server.port);
      const KNOWN = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]);
      let sent = 0;
      try {
        await fc.assert(
          fc.asyncProperty(
            fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,24}$/).filter((method) => !KNOWN.has(method)),
            fc.constantFrom("/healthz", "/oauth/token", "/metrics", "/nowhere", "/tessera.v1.TokenService/IssueToken"),
            async (method, path) => {
              const answer = await connection.send({ method, path, headers: {} });
              sent += 1;
              expect([404, 405], `${method} ${path}: ${answer.status} ${answer.body.toString("utf8").slice(0, 200)}`).toContain(answer.status);
            },
          ),
          fuzzParameters(runs(1)),
        );
      } finally {
        connection.close();
      }
      const after = await seriesOf();
      const methods = new Set(after.map((line) => /method="([^"]*)"/.exec(line)?.[1]));
      expect([...methods].filter((method) => method !== undefined && !KNOWN.has(method) && method !== "other")).toEqual([]);
      // Invented methods share one label per route and status: a handful of series, not one each.
      expect(sent).toBeGreaterThan(0);
      expect(after.length - before.length).toBeLessThan(12);
    },
    timeoutFor(runs(1)),
  );

  it(
    "keeps serving after generated request bodies cut short: streams reset mid-body or ended before their declared length",
    async () => {
      const session = http2.connect(`http://127.0.0.1:${server.port}`);
      session.on("error", () => {});
      try {
        await fc.assert(
          fc.asyncProperty(
            fc.constantFrom("/oauth/token", "/oauth/introspect", "/oauth/revoke", "/tessera.v1.TokenService/IssueToken"),
            fc.constantFrom("application/x-www-form-urlencoded", "application/json", "application/grpc", "application/grpc-web+proto", "application/proto"),
            fc.uint8Array({ minLength: 0, maxLength: 64 }),
            fc.boolean(),
            async (path, contentType, partial, reset) => {
              const stream = session.request({ ":method": "POST", ":path": path, "content-type": contentType, "content-length": String(partial.length + 100) }, { endStream: false });
              stream.on("error", () => {});
              let status = 0;
              stream.on("response", (headers) => (status = Number(headers[":status"])));
              stream.resume();
              await new Promise<void>((resolve) => stream.write(partial, () => resolve()));
              // Reset mid-body, or end the stream short of its declared length.
              if (reset) stream.close(http2.constants.NGHTTP2_CANCEL);
              else stream.end();
              await new Promise<void>((resolve) => {
                const timer = setTimeout(resolve, 5_000);
                stream.once("close", () => {
                  clearTimeout(timer);
                  resolve();
                });
              });
              expect(status, `${path} ${contentType} ${partial.length} bytes, ${reset ? "reset" : "ended short"}`).toBeLessThan(500);
            },
          ),
          fuzzParameters(runs(0.5)),
        );
      } finally {
        session.destroy();
      }
      const health = await sendHttp1(server.port, { method: "GET", path: "/healthz", headers: {} });
      expect(health.status).toBe(200);
    },
    timeoutFor(runs(0.5)),
  );

  it("keeps serving an HTTP/2 connection after hundreds of oversized bodies it refused unread", async () => {
    // A client (or a proxy multiplexing many clients on one connection) that sends bodies the
    // gateway refuses without reading them — 413 on the declared length, 404 on an unknown path.
    // 100 kB bodies: the session stops answering after about 290 of them (about 10 MB refused).
    const oversized = Buffer.alloc(100_000, 0x61);
    const connection = connectH2(server.port);
    try {
      for (let i = 0; i < 300; i++) {
        const attempt: HttpAttempt = {
          method: "POST",
          path: i % 2 === 0 ? "/oauth/token" : "/oauth/nowhere",
          headers: { "content-type": "application/x-www-form-urlencoded", "content-length": String(oversized.length) },
          body: oversized,
        };
        const answer = await connection.send(attempt).catch((error: unknown) => ({ status: -1, headers: {}, body: Buffer.from(String(error)) }));
        expect(answer.status, `request ${i} on the connection: ${answer.body.toString("utf8").slice(0, 200)}`).toBe(i % 2 === 0 ? 413 : 404);
      }
      const health = await connection.send({ method: "GET", path: "/healthz", headers: {} }).catch((error: unknown) => ({ status: -1, body: Buffer.from(String(error)) }));
      expect(health.status, `then /healthz on the same connection: ${health.body.toString("utf8")}`).toBe(200);
    } finally {
      connection.close();
    }
  });

  it("keeps serving an HTTP/2 connection after hundreds of bodies refused part-read past the gateway's cap", async () => {
    // No content-length: the gateway reads until the body passes its cap, then gives up on it.
    const oversized = Buffer.alloc(100_000, 0x61);
    const connection = connectH2(server.port);
    try {
      for (let i = 0; i < 300; i++) {
        const answer = await connection
          .send({ method: "POST", path: "/oauth/token", headers: { "content-type": "application/x-www-form-urlencoded" }, body: oversized })
          .catch((error: unknown) => ({ status: -1, headers: {}, body: Buffer.from(String(error)) }));
        expect(answer.status, `request ${i} on the connection: ${answer.body.toString("utf8").slice(0, 200)}`).toBe(413);
      }
      const health = await connection.send({ method: "GET", path: "/healthz", headers: {} }).catch((error: unknown) => ({ status: -1, body: Buffer.from(String(error)) }));
      expect(health.status, `then /healthz on the same connection: ${health.body.toString("utf8")}`).toBe(200);
    } finally {
      connection.close();
    }
  });

  it("keeps serving an HTTP/2 connection after hundreds of RPC bodies refused part-read", async () => {
    // gRPC-Web over HTTP/2 goes through connect-es, which reads an envelope's 5-byte header,
    // refuses a message past the read limit, and stops reading: the rest of the body arrives
    // on a stream whose answer is already sent.
    const header = Buffer.alloc(5);
    header.writeUInt32BE(RPC_READ_MAX_BYTES + 1, 1);
    const body = Buffer.concat([header, Buffer.alloc(100_000, 0x61)]);
    const connection = connectH2(server.port);
    try {
      for (let i = 0; i < 300; i++) {
        const answer = await connection
          .send({ method: "POST", path: "/tessera.v1.TokenService/IssueToken", headers: { "content-type": "application/grpc-web+proto" }, body })
          .catch((error: unknown) => ({ status: -1, headers: {} as Record<string, string>, body: Buffer.from(String(error)) }));
        expect(answer.status, `request ${i} on the connection: ${answer.body.toString("utf8").slice(0, 200)}`).toBe(200);
        expect(String(answer.headers["grpc-status"] ?? grpcWebTrailerStatus(answer.body)), `request ${i}`).toBe(String(Code.ResourceExhausted));
      }
      const health = await connection.send({ method: "GET", path: "/healthz", headers: {} }).catch((error: unknown) => ({ status: -1, body: Buffer.from(String(error)) }));
      expect(health.status, `then /healthz on the same connection: ${health.body.toString("utf8")}`).toBe(200);
    } finally {
      connection.close();
    }
  });
});

/** The grpc-status of a gRPC-Web answer whose status travels in its trailer frame. */
function grpcWebTrailerStatus(body: Buffer): string | undefined {
  return /grpc-status: *(\d+)/i.exec(body.toString("latin1"))?.[1];
}

/**
 * The proxy's client-certificate header (TESSERA_CLIENT_CERT_HEADER, RFC 8705 behind a
 * TLS-terminating proxy) under generated values from a trusted proxy address: XFCC elements with
 * mangled `Cert` values, cut or bit-flipped PEM, stray quotes and separators, oversized values.
 * Parsing the header is independent of storage, so one database is enough.
 */
describe("the proxy client-certificate header under generated values", () => {
  let server: TestServer;
  let workspace: CertificateWorkspace;
  let real: ClientCertificateFiles;
  let tlsClientId: string;

  beforeAll(async () => {
    workspace = certificateWorkspace();
    const ca = workspace.authority("fuzz-ca");
    real = ca.issue("fuzz-client", { subject: "/CN=fuzz-client", san: "DNS:fuzz.example" });
    server = await startTestServer({
      storage: "embedded",
      env: { TESSERA_TLS_CLIENT_CA: ca.certPath, TESSERA_TRUSTED_PROXIES: "127.0.0.1/32", TESSERA_CLIENT_CERT_HEADER: "x-forwarded-client-cert" },
    });
    tlsClientId = (await registerClient(server, { name: "fuzz-tls", scopes: ["orders:read"], tokenEndpointAuthMethod: "tls_client_auth", tlsClientAuthSanDns: "fuzz.example" })).clientId;
  });
  afterAll(async () => {
    await server?.destroy();
    workspace?.remove();
    closeHttpAgent();
  });

  it(
    "answers token requests with any header value without a 5xx, as RFC 6749 §5.2 JSON when refused",
    async () => {
      const pem = () => real.cert.toString();
      const mangledPem = fc.oneof(
        fc.nat({ max: 2_000 }).map((cut) => pem().slice(0, cut)),
        fc.tuple(fc.nat({ max: 900 }), fc.integer({ min: 0x20, max: 0x7e })).map(([at, code]) => {
          const text = pem();
          return text.slice(0, at) + String.fromCharCode(code) + text.slice(at + 1);
        }),
        fc.constant(pem()),
        hostileString(200).map((junk) => `-----BEGIN CERTIFICATE-----\n${junk}\n-----END CERTIFICATE-----`),
      );
      // Header values cannot hold raw line breaks or lone surrogates: the generated text goes in escaped, as proxies send it.
      const escape = (text: string) => {
        try {
          return encodeURIComponent(text);
        } catch {
          return "%";
        }
      };
      const value = fc.oneof(
        mangledPem.map(escape),
        mangledPem.map((text) => `Hash=00;Cert="${escape(text)}";Subject="CN=x"`),
        fc.tuple(mangledPem, mangledPem).map(([a, b]) => `Cert="${escape(a)}",By=x;Cert="${escape(b)}"`),
        headerValue(300),
        fc.constantFrom('Cert="', "Cert=", ";;;", ",,,", '"\\', "%", "%ZZ", "%2D%2D%2D%2D%2D", "Cert=%E0%A4%A", "a".repeat(40_000)),
      );
      await fc.assert(
        fc.asyncProperty(value, fc.boolean(), async (header, named) => {
          const form = new URLSearchParams({ grant_type: "client_credentials", ...(named ? { client_id: tlsClientId } : { client_id: "nobody-here" }) });
          const attempt: HttpAttempt = {
            method: "POST",
            path: "/oauth/token",
            headers: { "content-type": "application/x-www-form-urlencoded", "x-forwarded-client-cert": header },
            body: Buffer.from(form.toString()),
          };
          const answer = await sendHttp1(server.port, attempt);
          checkAnswer(attempt, answer);
          if (answer.status === 200) expect(header, "only the real certificate authenticates").toContain(encodeURIComponent(pem()).slice(0, 200));
        }),
        fuzzParameters(runs(0.5)),
      );
    },
    timeoutFor(runs(0.5)),
  );
});
