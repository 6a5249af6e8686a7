/**
 * Shared pieces of the hardening suites: how many runs a property gets, HTTP clients that send
 * what a browser-grade client would refuse to (any method, latin1 paths and header bytes,
 * repeated headers, raw bytes on the wire), a JWT forge, and a fingerprint of every table so a
 * test can prove that hostile traffic wrote nothing.
 */
import { createHmac, createPublicKey, generateKeyPairSync, sign as cryptoSign, type JsonWebKey, type KeyObject } from "node:crypto";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import fc from "fast-check";
import pg from "pg";

// ---------------------------------------------------------------------------------------------
// Run budget

/** Runs per property: small by default (CI), `TESSERA_FUZZ_RUNS=5000` for the long mode. */
export const DEFAULT_FUZZ_RUNS = 150;
export const FUZZ_RUNS = readRuns();

function readRuns(): number {
  const raw = process.env.TESSERA_FUZZ_RUNS;
  if (raw === undefined || raw === "") return DEFAULT_FUZZ_RUNS;
  const runs = Number(raw);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`TESSERA_FUZZ_RUNS must be a positive integer, got ${JSON.stringify(raw)}`);
  return runs;
}

/** A share of the budget, for properties whose runs cost more than a request. */
export function runs(share = 1): number {
  return Math.max(5, Math.round(FUZZ_RUNS * share));
}

/** A vitest timeout that grows with the budget: `msPerRun` is generous, shrinking included. */
export function timeoutFor(numRuns: number, msPerRun = 40): number {
  return 60_000 + numRuns * msPerRun;
}

/**
 * fast-check parameters: `TESSERA_FUZZ_SEED` (and `TESSERA_FUZZ_PATH`) replay a failure that a
 * report printed; shrinking is bounded in time so a failing run still ends inside the test.
 */
export function fuzzParameters<T>(numRuns: number, extra: Partial<fc.Parameters<T>> = {}): fc.Parameters<T> {
  const seed = process.env.TESSERA_FUZZ_SEED;
  const path = process.env.TESSERA_FUZZ_PATH;
  return {
    numRuns,
    ...(seed ? { seed: Number(seed) } : {}),
    ...(seed && path ? { path } : {}),
    plugins: [fc.interruptAfterTimeLimit(timeoutFor(numRuns) - 15_000, { failOnInterrupt: true }) as fc.Plugin<T>],
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 through node:http (keep-alive; any token as method, latin1 paths and header values)

export interface HttpAttempt {
  readonly method: string;
  /** Request target as sent: any characters U+0021–U+00FF (written as latin1). */
  readonly path: string;
  /** Header values may be arrays (the header is repeated) and latin1 strings (raw bytes ≥ 0x80). */
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly body?: Buffer | undefined;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** No request may take longer than this; a hang is a failure, not a slow test. */
export const REQUEST_TIMEOUT_MS = 10_000;

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

export function closeHttpAgent(): void {
  agent.destroy();
}

export async function sendHttp1(port: number, attempt: HttpAttempt, timeoutMs = REQUEST_TIMEOUT_MS): Promise<HttpAnswer> {
  try {
    return await sendHttp1Once(port, attempt, timeoutMs, agent);
  } catch (error) {
    // The keep-alive race: the server closed an idle connection just as the agent reused it
    // (node marks such requests `reusedSocket`). Once more on a fresh connection; a server that
    // resets on this request resets again, and that failure stands.
    if ((error as { reusedSocket?: boolean }).reusedSocket) return sendHttp1Once(port, attempt, timeoutMs, false);
    throw error;
  }
}

function sendHttp1Once(port: number, attempt: HttpAttempt, timeoutMs: number, via: http.Agent | false): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | undefined, answer?: HttpAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(answer!);
    };
    const request = http.request({
      host: "127.0.0.1",
      port,
      agent: via,
      method: attempt.method,
      path: attempt.path,
      headers: attempt.headers as http.OutgoingHttpHeaders,
    });
    const timer = setTimeout(() => {
      request.destroy();
      finish(new Error(`no response within ${timeoutMs} ms to ${attempt.method} ${attempt.path.slice(0, 80)}`));
    }, timeoutMs);
    request.on("response", (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => finish(undefined, { status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on("error", (error) => finish(error));
    });
    // An error after the answer arrived (the server closing early on an oversized body) is moot.
    request.on("error", (error) =>
      finish(
        Object.assign(new Error(`${attempt.method} ${attempt.path.slice(0, 80)}: ${error.message}`), {
          reusedSocket: request.reusedSocket && /ECONNRESET|EPIPE|socket hang up/.test(error.message),
        }),
      ),
    );
    request.end(attempt.body);
  });
}

// ---------------------------------------------------------------------------------------------
// HTTP/2 cleartext (prior knowledge), the gateway's other request type

export interface H2Connection {
  send(attempt: HttpAttempt, timeoutMs?: number): Promise<HttpAnswer>;
  close(): void;
}

export function connectH2(port: number): H2Connection {
  let session: http2.ClientHttp2Session | undefined;
  const open = () => {
    if (!session || session.closed || session.destroyed) {
      session = http2.connect(`http://127.0.0.1:${port}`);
      session.on("error", () => {});
    }
    return session;
  };
  return {
    send(attempt, timeoutMs = REQUEST_TIMEOUT_MS) {
      return new Promise((resolve, reject) => {
        const headers: http2.OutgoingHttpHeaders = { ":method": attempt.method, ":path": attempt.path };
        for (const [name, value] of Object.entries(attempt.headers)) headers[name] = value as string | string[];
        const stream = open().request(headers);
        const timer = setTimeout(() => {
          stream.close(http2.constants.NGHTTP2_CANCEL);
          reject(new Error(`no HTTP/2 response within ${timeoutMs} ms to ${attempt.method} ${attempt.path.slice(0, 80)}`));
        }, timeoutMs);
        let status = 0;
        let responseHeaders: http.IncomingHttpHeaders = {};
        const chunks: Buffer[] = [];
        stream.on("response", (received) => {
          status = Number(received[":status"]);
          responseHeaders = received as http.IncomingHttpHeaders;
        });
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        // Settled once the stream has closed, not at the answer's end: an answer can come
        // before the whole body was sent, and a caller that went on at once would keep a
        // growing number of uploads open, past the server's concurrent-stream limit.
        stream.on("close", () => {
          clearTimeout(timer);
          if (status === 0) return;
          resolve({ status, headers: responseHeaders, body: Buffer.concat(chunks) });
        });
        stream.on("error", (error) => {
          clearTimeout(timer);
          reject(new Error(`HTTP/2 ${attempt.method} ${attempt.path.slice(0, 80)}: ${error.message}`));
        });
        stream.end(attempt.body);
      });
    },
    close() {
      session?.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Raw bytes on a socket, for what no HTTP client will send

export type RawOutcome =
  | { readonly kind: "response"; readonly status: number; readonly headers: Readonly<Record<string, string>>; readonly body: Buffer }
  | { readonly kind: "closed"; readonly received: Buffer };

/**
 * Writes `bytes` and half-closes, then reads until one whole response (status line, headers, a body as long as
 * Content-Length says, or chunked up to the last chunk) has arrived, or the server closes.
 */
export function sendRaw(port: number, bytes: Buffer, timeoutMs = REQUEST_TIMEOUT_MS): Promise<RawOutcome> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (outcome: RawOutcome | Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const timer = setTimeout(
      () => finish(new Error(`no response and no close within ${timeoutMs} ms; sent ${JSON.stringify(bytes.subarray(0, 120).toString("latin1"))}`)),
      timeoutMs,
    );
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const parsed = parseResponse(received);
      if (parsed) finish(parsed);
    });
    socket.on("close", () => finish(parseResponse(received, true) ?? { kind: "closed", received }));
    socket.on("error", () => {});
    // Then half-close, as a client with nothing more to say does: a request whose framing
    // promises more body (a chunk of 2^64 bytes) is otherwise, rightly, waited for until the
    // server's request timeout.
    socket.end(bytes);
  });
}

function parseResponse(data: Buffer, atEnd = false): RawOutcome | undefined {
  const headEnd = data.indexOf("\r\n\r\n");
  if (headEnd === -1) return undefined;
  const lines = data.subarray(0, headEnd).toString("latin1").split("\r\n");
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
  if (!status) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = data.subarray(headEnd + 4);
  const length = headers["content-length"];
  if (length !== undefined) {
    const size = Number(length);
    if (rest.length < size) return atEnd ? { kind: "response", status: Number(status[1]), headers, body: rest } : undefined;
    return { kind: "response", status: Number(status[1]), headers, body: rest.subarray(0, size) };
  }
  if (headers["transfer-encoding"]?.toLowerCase() === "chunked") {
    const body = dechunk(rest);
    if (!body) return atEnd ? { kind: "response", status: Number(status[1]), headers, body: rest } : undefined;
    return { kind: "response", status: Number(status[1]), headers, body };
  }
  return atEnd || Number(status[1]) === 304 || Number(status[1]) === 204 ? { kind: "response", status: Number(status[1]), headers, body: rest } : undefined;
}

function dechunk(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf("\r\n", at);
    if (lineEnd === -1) return undefined;
    const size = parseInt(data.subarray(at, lineEnd).toString("latin1"), 16);
    if (!Number.isFinite(size)) return undefined;
    if (size === 0) return Buffer.concat(parts);
    if (data.length < lineEnd + 2 + size + 2) return undefined;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

// ---------------------------------------------------------------------------------------------
// Assertions shared by the HTTP properties

export function describeAttempt(attempt: HttpAttempt): string {
  const body = attempt.body ?? Buffer.alloc(0);
  return `${attempt.method} ${attempt.path.slice(0, 200)} headers=${JSON.stringify(attempt.headers).slice(0, 600)} body(${body.length})=${JSON.stringify(body.subarray(0, 300).toString("latin1"))}`;
}

/** RFC 6749 §5.2: a JSON object with a string `error` (and optionally `error_description`). */
export function oauthErrorOf(answer: { body: Buffer; headers: Readonly<Record<string, unknown>> }): { error: string } | string {
  const type = String(answer.headers["content-type"] ?? "");
  if (!type.startsWith("application/json")) return `content-type ${JSON.stringify(type)} is not JSON`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body.toString("utf8"));
  } catch {
    return `body is not JSON: ${JSON.stringify(answer.body.subarray(0, 200).toString("latin1"))}`;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return "body is not a JSON object";
  const { error, error_description: description } = parsed as Record<string, unknown>;
  if (typeof error !== "string" || error.length === 0) return `no string "error" member: ${answer.body.toString("utf8").slice(0, 200)}`;
  if (description !== undefined && typeof description !== "string") return "error_description is not a string";
  return { error };
}

/** The path part of a request target, for deciding which answers must be OAuth JSON. */
export function pathOf(target: string): string {
  const query = target.indexOf("?");
  return query === -1 ? target : target.slice(0, query);
}

// ---------------------------------------------------------------------------------------------
// No row written: a fingerprint of every table Tessera writes

export const WRITTEN_TABLES = [
  "clients", "client_secrets", "signing_keys", "revoked_tokens", "refresh_tokens", "audit_events",
  "trusted_issuers", "federation_policies", "delegation_policies",
] as const;

/**
 * Audit actions that record a token issued by a grant that is audited by design (federated and
 * delegated issuance). The fuzz runs issue such tokens on purpose, and check each one against
 * what its subject and policy allow, so these rows are counted apart as the refusals are.
 */
const ISSUANCE_AUDIT_ACTIONS = ["federation.token_issued", "federation.client_authenticated", "delegation.token_exchanged"];
export type WrittenTable = (typeof WRITTEN_TABLES)[number];

export interface TableFingerprint {
  readonly rows: number;
  /** md5 over every row's text form: catches updates that leave the count alone. */
  readonly digest: string;
}

export interface DatabaseFingerprint {
  readonly tables: Readonly<Record<WrittenTable, TableFingerprint>>;
  /** `admin.denied` audit rows, kept out of `tables.audit_events` (see snapshotDatabase). */
  readonly deniedAdminCalls: number;
  /** Audit rows of audited issuances, kept out of `tables.audit_events` (see ISSUANCE_AUDIT_ACTIONS). */
  readonly auditedIssuances: number;
}

export async function withSchema<T>(databaseUrl: string, fn: (db: pg.Client) => Promise<T>): Promise<T> {
  const url = new URL(databaseUrl);
  const schema = url.searchParams.get("schema");
  if (!schema || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(schema)) throw new Error(`no usable ?schema= in ${databaseUrl}`);
  url.searchParams.delete("schema");
  const db = new pg.Client({ connectionString: url.toString(), options: `-c search_path=${schema}` });
  await db.connect();
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

/**
 * Row count and content digest per table. Refused admin calls are audited on purpose
 * (`admin.denied`, written by the bearer interceptor for calls without a valid admin token), so
 * those rows are counted apart and left out of the audit_events fingerprint: every other row of
 * every table must be untouched.
 */
export async function snapshotDatabase(databaseUrl: string): Promise<DatabaseFingerprint> {
  return withSchema(databaseUrl, async (db) => {
    const tables = {} as Record<WrittenTable, TableFingerprint>;
    for (const table of WRITTEN_TABLES) {
      const where = table === "audit_events" ? `WHERE t.action <> 'admin.denied' AND t.action NOT IN (${ISSUANCE_AUDIT_ACTIONS.map((action) => `'${action}'`).join(", ")})` : "";
      const { rows } = await db.query<{ rows: number; digest: string | null }>(
        `SELECT count(*)::int AS rows, md5(string_agg(t::text, E'\\n' ORDER BY t::text)) AS digest FROM ${table} t ${where}`,
      );
      tables[table] = { rows: rows[0]!.rows, digest: rows[0]!.digest ?? "" };
    }
    const denied = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_events WHERE action = 'admin.denied'");
    const issued = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_events WHERE action = ANY($1::text[])", [ISSUANCE_AUDIT_ACTIONS]);
    return { tables, deniedAdminCalls: denied.rows[0]!.n, auditedIssuances: issued.rows[0]!.n };
  });
}

// ---------------------------------------------------------------------------------------------
// Hostile values

/** Strings that break naive parsers, byte handling or SQL drivers. */
export const NASTY_STRINGS: readonly string[] = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "%00",
  "%",
  "%ZZ",
  "%C3%28",
  "%F0%28%8C%BC",
  "\uD800",
  "\uDFFF\uD800",
  "\uFFFF",
  "\u202Etxt.exe",
  "\u00e9\u0301",
  "😀",
  "'; DROP TABLE clients; --",
  "\" OR 1=1 --",
  "../../../../etc/passwd",
  "${jndi:ldap://x}",
  "{{metadata.secret}}",
  "__proto__",
  "constructor",
  "\r\nX-Injected: 1",
  "\t",
  "tessera:admin",
  "tessera:admin tessera:introspect",
  "rt_",
  "rt_" + "A".repeat(43),
  "null",
  "NaN",
  "-1",
  "1e309",
  "9".repeat(30),
];

export function hostileString(maxLength = 64): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
    { weight: 2, arbitrary: fc.string({ maxLength }) },
    { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength }) },
    { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom("\u0000", "\uD800", "%", "+", "&", "=", ";", ":", "\\", "\"", " "), maxLength: 16 }) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom("a", "\u0000", "é", "/"), fc.integer({ min: 256, max: 40_000 })).map(([c, n]) => c.repeat(n)) },
  );
}

/**
 * Client ids no client can have (the id alphabet is 3–128 of A-Z a-z 0-9 . _ ~ -): too long, too
 * short, or with one character from outside. `maxLength` keeps the longest inside a transport's
 * caps (16 KiB heads and gateway bodies).
 */
export function junkClientId(maxLength = 12_000): fc.Arbitrary<string> {
  const alphabet = fc.stringMatching(/^[A-Za-z0-9._~-]{0,40}$/);
  return fc.oneof(
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom("j", "-", "~"), fc.integer({ min: 129, max: maxLength })).map(([c, n]) => c.repeat(n)) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(alphabet, fc.constantFrom(" ", "!", "é", "/", "\u0000", "%", ":", "+", "@", "\uD800", "\u202E", "*", "\n"), alphabet)
        .map(([before, odd, after]) => `${before}${odd}${after}`),
    },
    { weight: 1, arbitrary: fc.constantFrom("", "a", "ab", "..") },
  );
}

/**
 * A few junk ids that properties draw from again and again: a store keyed by them would reach its
 * lockout threshold (10 failures) within a default run, which no fresh id ever does.
 */
export const RECURRING_JUNK_CLIENT_IDS: readonly string[] = ["j".repeat(12_000), "k".repeat(129), "bad id", "cliënt", "a\u0000b", "ab", "x/y", "%41%42%43"];

/** Bytes a header value may carry through node:http: TAB, 0x20–0x7E and 0x80–0xFF (latin1). */
export function headerValue(maxLength = 200): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ maxLength }),
    fc.uint8Array({ maxLength }).map((bytes) =>
      Buffer.from(bytes.filter((byte) => byte === 9 || (byte >= 0x20 && byte !== 0x7f))).toString("latin1"),
    ),
    fc.constantFrom("", " ", "\t", "é", "\u00ff\u00fe", "a".repeat(9_000)),
  ).map((value) => value.replace(/[^\t\x20-\x7e\x80-\xff]/g, "?"));
}

// ---------------------------------------------------------------------------------------------
// A JWT forge: tokens that look like Tessera's but that Tessera never signed

export interface PublishedKey {
  readonly kid: string;
  readonly alg: string;
  readonly jwk: JsonWebKey;
  /** The SPKI PEM of the public key: the classic HMAC-confusion secret. */
  readonly pem: string;
}

export async function publishedKeys(baseUrl: string): Promise<PublishedKey[]> {
  const jwks = (await (await fetch(`${baseUrl}/keys`)).json()) as { keys: (JsonWebKey & { kid: string; alg: string })[] };
  return jwks.keys.map((jwk) => ({
    kid: jwk.kid,
    alg: jwk.alg,
    jwk,
    pem: createPublicKey({ key: jwk, format: "jwk" }).export({ type: "spki", format: "pem" }).toString(),
  }));
}

export interface ForgeContext {
  readonly issuer: string;
  readonly keys: readonly PublishedKey[];
  readonly clientIds: readonly string[];
  /** Real tokens, whose parts are spliced into forgeries (never sent whole). */
  readonly realTokens: readonly string[];
}

const b64url = (value: Buffer | string) => Buffer.from(value).toString("base64url");
const segment = (value: unknown) => b64url(JSON.stringify(value));

/** An attacker's own keys: for embedded-`jwk` and key-substitution forgeries. */
const attacker = {
  es256: generateKeyPairSync("ec", { namedCurve: "P-256" }),
  rsa: generateKeyPairSync("rsa", { modulusLength: 2048 }),
  ed25519: generateKeyPairSync("ed25519"),
};

function attackerSignature(alg: string, input: string): Buffer {
  const data = Buffer.from(input, "latin1");
  switch (alg) {
    case "ES256":
      return cryptoSign("sha256", data, { key: attacker.es256.privateKey, dsaEncoding: "ieee-p1363" });
    case "EdDSA":
      return cryptoSign(null, data, attacker.ed25519.privateKey);
    case "PS256":
      return cryptoSign("sha256", data, { key: attacker.rsa.privateKey, padding: 6, saltLength: 32 });
    default:
      return cryptoSign("sha256", data, attacker.rsa.privateKey);
  }
}

function attackerJwk(alg: string): JsonWebKey {
  const key: KeyObject = alg === "ES256" ? attacker.es256.publicKey : alg === "EdDSA" ? attacker.ed25519.publicKey : attacker.rsa.publicKey;
  return key.export({ format: "jwk" });
}

export interface ForgedToken {
  readonly token: string;
  /** How it was made, for failure messages. */
  readonly recipe: string;
}

export function forgedTokens(context: ForgeContext): fc.Arbitrary<ForgedToken> {
  const now = Math.floor(Date.now() / 1000);
  const key = fc.constantFrom(...context.keys);
  const jsonJunk = fc.oneof(fc.jsonValue({ maxDepth: 2 }), hostileString(32));

  const header = fc.record(
    {
      alg: fc.oneof(
        fc.constantFrom("none", "None", "NONE", "HS256", "HS384", "HS512", "RS256", "PS256", "ES256", "EdDSA", "ES384", "RS512", "ES256K", "Ed25519", ""),
        jsonJunk,
      ),
      kid: fc.oneof(key.map((k) => k.kid), fc.constantFrom("unknown-kid", "../../keys", "' OR '1'='1", "\u0000", ""), jsonJunk),
      typ: fc.oneof(fc.constantFrom("at+jwt", "application/at+jwt", "AT+JWT", "JWT", "jwt", "", "at+jwt\u0000"), jsonJunk),
      crit: fc.oneof(fc.constantFrom(["exp"], [], ["b64"], "b64", null, ["crit"]), jsonJunk),
      b64: fc.boolean(),
      jku: fc.constantFrom("http://127.0.0.1:1/keys", "https://attacker.example/jwks.json"),
      x5u: fc.constant("https://attacker.example/cert.pem"),
      cty: fc.constantFrom("JWT", "json"),
      zip: fc.constant("DEF"),
    },
    { requiredKeys: [] },
  );

  const claims = fc.record(
    {
      iss: fc.oneof(fc.constant(context.issuer), fc.constant(`${context.issuer}/`), jsonJunk),
      sub: fc.oneof(fc.constantFrom(...context.clientIds), jsonJunk),
      aud: fc.oneof(fc.constant(context.issuer), fc.constant([context.issuer]), fc.array(jsonJunk, { maxLength: 3 }), jsonJunk),
      client_id: fc.oneof(fc.constantFrom(...context.clientIds), jsonJunk),
      exp: fc.oneof(
        fc.constantFrom(now + 600, now - 600, 0, -1, 1e300, Number.MAX_SAFE_INTEGER, 2 ** 53 + 1, now + 0.5),
        fc.constantFrom("9999999999", null, true, [], {}),
        fc.double(),
      ),
      iat: fc.oneof(fc.constantFrom(now, now + 10_000, -1, 1e300), jsonJunk),
      nbf: fc.oneof(fc.constantFrom(now - 5, now + 10_000, 1e300, -1e300), jsonJunk),
      jti: fc.oneof(fc.uuid(), jsonJunk),
      scope: fc.oneof(fc.constantFrom("tessera:admin tessera:introspect", "tessera:admin", "", " "), jsonJunk),
      constructor: fc.constant({ prototype: { polluted: true } }),
    },
    { requiredKeys: [] },
  );

  type Signing =
    | { kind: "none" }
    | { kind: "hmac"; secret: "pem" | "pem-trimmed" | "jwk-json" | "n" | "x" | "der"; bits: 256 | 384 | 512; kid: PublishedKey }
    | { kind: "attacker"; embedJwk: boolean }
    | { kind: "random"; bytes: Uint8Array }
    | { kind: "spliced" };
  const signing: fc.Arbitrary<Signing> = fc.oneof(
    fc.constant<Signing>({ kind: "none" }),
    fc.record({
      kind: fc.constant("hmac" as const),
      secret: fc.constantFrom("pem" as const, "pem-trimmed" as const, "jwk-json" as const, "n" as const, "x" as const, "der" as const),
      bits: fc.constantFrom(256 as const, 384 as const, 512 as const),
      kid: key,
    }),
    fc.record({ kind: fc.constant("attacker" as const), embedJwk: fc.boolean() }),
    fc.record({ kind: fc.constant("random" as const), bytes: fc.uint8Array({ maxLength: 600 }) }),
    fc.constant<Signing>({ kind: "spliced" }),
  );

  type Mangle = "none" | "extra-segment" | "two-segments" | "one-segment" | "padding" | "plus-slash" | "non-json-header" | "non-json-payload" | "oversized" | "whitespace" | "array-payload" | "latin1";
  const mangle = fc.constantFrom<Mangle>(
    "none",
    "none",
    "none",
    "extra-segment",
    "two-segments",
    "one-segment",
    "padding",
    "plus-slash",
    "non-json-header",
    "non-json-payload",
    "oversized",
    "whitespace",
    "array-payload",
    "latin1",
  );

  return fc
    .tuple(header, claims, signing, mangle, fc.integer({ min: 10_000, max: 13_000 }), fc.nat(), fc.boolean())
    .map(([rawHeader, rawClaims, how, mangling, oversize, pick, pollute]) => {
      const headerObject: Record<string, unknown> = { ...rawHeader };
      if (how.kind === "none") headerObject.alg = "none";
      if (how.kind === "hmac") {
        headerObject.alg = `HS${how.bits}`;
        headerObject.kid = how.kid.kid;
      }
      if (how.kind === "attacker") {
        const alg = typeof headerObject.alg === "string" && ["RS256", "PS256", "ES256", "EdDSA"].includes(headerObject.alg) ? headerObject.alg : "RS256";
        headerObject.alg = alg;
        if (how.embedJwk) headerObject.jwk = attackerJwk(alg);
      }
      // A literal "__proto__" member, which JSON.parse keeps as an own property.
      const claimsJson = pollute
        ? JSON.stringify(rawClaims).replace(/^\{/, `{"__proto__":{"polluted":true},`).replace(/,\}$/, "}")
        : JSON.stringify(rawClaims);
      let headerPart = segment(headerObject);
      let payloadPart = b64url(claimsJson);
      if (mangling === "non-json-header") headerPart = b64url("{alg:RS256");
      if (mangling === "non-json-payload") payloadPart = b64url("\u0000\uFFFF not json");
      if (mangling === "array-payload") payloadPart = segment([rawClaims]);
      if (mangling === "oversized") payloadPart = b64url(JSON.stringify({ ...rawClaims, pad: "x".repeat(oversize) }));
      if (mangling === "latin1") payloadPart = Buffer.from(`{"iss":"${context.issuer}","x":"\u00ff\u00fe"}`, "latin1").toString("base64url");
      const input = `${headerPart}.${payloadPart}`;
      let signature: string;
      switch (how.kind) {
        case "none":
          signature = "";
          break;
        case "hmac": {
          const der = createPublicKey({ key: how.kid.jwk, format: "jwk" }).export({ type: "spki", format: "der" });
          const secret = {
            pem: how.kid.pem,
            "pem-trimmed": how.kid.pem.trim(),
            "jwk-json": JSON.stringify(how.kid.jwk),
            n: String(how.kid.jwk.n ?? how.kid.jwk.x ?? ""),
            x: String(how.kid.jwk.x ?? how.kid.jwk.n ?? ""),
            der,
          }[how.secret];
          signature = createHmac(`sha${how.bits}`, secret).update(input).digest("base64url");
          break;
        }
        case "attacker":
          signature = attackerSignature(String(headerObject.alg), input).toString("base64url");
          break;
        case "random":
          signature = b64url(Buffer.from(how.bytes));
          break;
        case "spliced": {
          const real = context.realTokens[pick % context.realTokens.length] ?? "";
          signature = real.split(".")[2] ?? "";
          break;
        }
      }
      let token = `${input}.${signature}`;
      if (mangling === "extra-segment") token = `${token}.${signature}`;
      if (mangling === "two-segments") token = input;
      if (mangling === "one-segment") token = headerPart;
      if (mangling === "padding") token = `${headerPart}==.${payloadPart}=.${signature}=`;
      if (mangling === "plus-slash") token = token.replace(/-/g, "+").replace(/_/g, "/");
      if (mangling === "whitespace") token = ` ${token} `;
      return { token, recipe: `${how.kind}${how.kind === "hmac" ? `(${how.secret}, HS${how.bits})` : ""} / ${mangling} / header ${JSON.stringify(headerObject).slice(0, 300)}` };
    });
}

/** A real token with one part swapped for a forged one: same kid and alg, wrong signature. */
export function tamperedRealTokens(context: ForgeContext): fc.Arbitrary<ForgedToken> {
  return fc
    .tuple(fc.nat(), fc.constantFrom("header" as const, "payload" as const, "signature" as const, "truncate" as const), fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }))
    .map(([pick, part, extra]) => {
      const real = context.realTokens[pick % context.realTokens.length]!;
      const [h, p, s] = real.split(".") as [string, string, string];
      const header = JSON.parse(Buffer.from(h, "base64url").toString("utf8")) as Record<string, unknown>;
      const payload = JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as Record<string, unknown>;
      switch (part) {
        case "header":
          return { token: `${segment({ ...header, ...extra, crit: ["exp"] })}.${p}.${s}`, recipe: `real token, header + crit + ${JSON.stringify(extra)}` };
        case "payload":
          return {
            token: `${h}.${segment({ ...payload, ...extra, scope: "tessera:admin tessera:introspect", exp: Math.floor(Date.now() / 1000) + 86_400 })}.${s}`,
            recipe: `real token, payload escalated + ${JSON.stringify(extra)}`,
          };
        case "signature":
          return { token: `${h}.${p}.${s.slice(0, -4)}${s.slice(-4) === "AAAA" ? "BBBB" : "AAAA"}`, recipe: "real token, signature flipped" };
        case "truncate":
          return { token: `${h}.${p}.${s.slice(0, Math.max(0, s.length - 1 - (pick % 20)))}`, recipe: "real token, signature truncated" };
      }
    });
}
