/**
 * `npm run bench`: Tessera against node-oidc-provider doing the same job, on this machine, in one
 * run — each server in its own process, driven by the same load generator (autocannon as a
 * library in this process), with the machine's raw signing and verification ceilings and a bare
 * node:http token endpoint (the floor) beside them. Prints a table and writes bench/results.json.
 *
 * gRPC is measured two ways. The h2load-* rows drive Tessera's HTTP and gRPC surfaces with one
 * load generator in C (h2load, Debian's nghttp2-client; installed with apt-get when missing, or
 * the rows are void with a message saying what to install): `--h1` for POST /oauth/introspect
 * and /oauth/token, h2c with 16 streams per connection for AuthenticateToken and IssueToken
 * (protobuf bodies from src/gen in the gRPC envelope), 8 connections each, one client each
 * (h2load repeats one request). Their gRPC/HTTP ratios of server CPU per call and throughput are
 * the targets of the gRPC-at-HTTP's-cost issue. The grpc-* rows are the real-client view: a
 * separate grpc-js process, as a polyglot caller would call.
 *
 * Every throughput row runs with the abuse limits off (TESSERA_RATE_LIMIT_PER_IP,
 * TESSERA_RATE_LIMIT_PER_CLIENT and TESSERA_LOCKOUT_THRESHOLD at 0); the *-limited rows measure
 * the limiter's own cost on a second replica of the same database with the limits on at budgets
 * the load never reaches. A row is VOID when any call was not a success: a non-2xx answer, a
 * socket error or timeout, a failed stream, a non-OK gRPC status (for h2load, which does not read
 * trailers, from Tessera's tessera_rpc_requests_total before and after the measured run, which
 * must also count as many OK calls as h2load saw). A void row is printed with its counts and
 * never used in a median or a ratio (bench/report.ts).
 *
 *   npm run bench -- [--duration 8] [--warmup 2] [--connections 32] [--rounds 3] [--clients 10] [--smoke]
 *                    [--only name[,name…]] [--cpu-prof] [--server-root dir] [--out file] [--env NAME=VALUE]
 *
 * --connections autocannon connections, and calls in flight for grpc-js and the ceilings (the
 *               h2load rows keep their 8 connections).
 * --rounds      how many times the comparison scenarios (Tessera, oidc-provider, floor, gRPC, h2load) run,
 *               interleaved: round 1 runs each once, then round 2, …. Each row reports the
 *               round with the median requests/s (all rounds' figures beside it), so a burst of
 *               other work on the machine during one run does not decide a ratio. RSS is the
 *               peak over all rounds; one void round voids the row.
 * --clients N   the scale scenario's Tessera has N clients in its database (bulk-inserted with SQL)
 *               and is started fresh to time start-up; its issuance is compared with the
 *               10-client figure of the same run. The load rotates over up to 1,000 of the N,
 *               spread evenly (autocannon copies the request list into every connection). The
 *               comparison scenarios use 10 clients a side.
 * --smoke       1-second runs, 3 clients: checks that everything works, measures nothing.
 * --only        scenario names or prefixes (`ceiling`, `tessera-token`, `grpc`, `h2load`, `scale`, …).
 * --cpu-prof    writes a V8 CPU profile of the main Tessera process to bench/profiles/.
 * --server-root runs Tessera from another checkout (built there first), e.g. to measure a change
 *               against the same peers and load generator.
 * --out         where the JSON results go (default bench/results.json, not committed).
 * --env         NAME=VALUE, repeatable: extra environment for every Tessera process (e.g.
 *               `--env UV_THREADPOOL_SIZE=4` to measure against the default).
 *
 * Everything listens on 127.0.0.1. Figures drift ±30% between runs on small machines: compare
 * within one run only.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { execFileSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { generateKeyPair, exportJWK, SignJWT } from "jose";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { AuthenticateTokenRequestSchema, IntrospectionService } from "../src/gen/tessera/v1/introspection_service_pb.js";
import { GrantType, IssueTokenRequestSchema, TokenService } from "../src/gen/tessera/v1/token_service_pb.js";
import { freePort } from "../test/support/ports.js";
import {
  BENCH_SCOPE,
  POSTGRES_BASE_URL,
  TOKEN_REQUEST_BODY,
  adminApi,
  assertSchemaName,
  basicAuthorization,
  fetchToken,
  insertClients,
  randomSecret,
  registerClients,
  withPostgres,
  type BenchClient,
} from "./clients.js";
import { delegationSetup, federationSetup } from "./federation.js";
import { ensureH2load, grpcFrame, h2loadRun, type H2loadAvailability, type H2loadResult, type H2loadTarget } from "./h2load.js";
import { httpLoad, postRequests, type LoadResult } from "./http-load.js";
import { ROOT, cpuSeconds, mainThreadCpuSeconds, runJsonScript, rssMiB, sampleRss, startFloor, startPeer, startTessera, startTransportFloor, type ListeningProcess, type NodeProcess, type TesseraProcess } from "./processes.js";
import { printReport, voidReason, type Results, type ScenarioResult } from "./report.js";
import { rpcOutcomes, settledRpcCounts } from "./rpc-metrics.js";

// Scenarios in the order they run; --only selects by name or by a prefix ending at a dash.
const CEILINGS = [
  "ceiling-sign-rs256",
  "ceiling-sign-es256",
  "ceiling-sign-rs256-sync",
  "ceiling-verify-rs256",
  "ceiling-verify-es256",
  "ceiling-jose-verify-rs256",
  "ceiling-jose-verify-es256",
] as const;
const MAIN = [
  "tessera-token-rs256",
  "tessera-token-rs256-limited",
  "peer-token-rs256",
  "tessera-token-es256",
  "peer-token-es256",
  "tessera-jwt-bearer-rs256",
  "tessera-token-exchange-rs256",
  "tessera-token-dpop-rs256",
  "tessera-token-dpop-es256",
  "floor-token-rs256",
  "floor-token-es256",
  "floor-transport-http1",
  "floor-transport-grpc",
  "tessera-introspect",
  "tessera-introspect-limited",
  "tessera-introspect-bearer",
  "peer-introspect",
  "h2load-http-introspect",
  "h2load-grpc-authenticate-token",
  "h2load-http-token-rs256",
  "h2load-grpc-issue-token-rs256",
  "grpc-issue-token",
  "grpc-authenticate-token",
] as const;
const SCENARIOS = [...CEILINGS, ...MAIN, "pglite-token-rs256", "scale-token-rs256"] as const;
type Scenario = (typeof SCENARIOS)[number];

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "8" },
    warmup: { type: "string" },
    connections: { type: "string", default: "32" },
    rounds: { type: "string", default: "3" },
    clients: { type: "string" },
    smoke: { type: "boolean", default: false },
    only: { type: "string" },
    "cpu-prof": { type: "boolean", default: false },
    "server-root": { type: "string" },
    out: { type: "string", default: "bench/results.json" },
    env: { type: "string", multiple: true, default: [] },
  },
});
const resultsFile = path.resolve(ROOT, values.out);
const serverRoot = values["server-root"] ? path.resolve(values["server-root"]) : ROOT;
// src/app.ts before the composition root became a folder, src/app/app.ts since.
if (!["src/app.ts", "src/app/app.ts"].some((entry) => existsSync(path.join(serverRoot, entry)))) fail(`--server-root ${serverRoot} is not a Tessera checkout (no src/app/app.ts)`);
// Tessera is measured as `npm start` runs it: compiled, from dist/.
execFileSync("npm", ["run", "--silent", "build"], { cwd: serverRoot, stdio: "inherit" });
/** --env NAME=VALUE (repeatable): extra environment for every Tessera process, for experiments. */
const extraEnv: Record<string, string> = {};
for (const pair of values.env) {
  const equals = pair.indexOf("=");
  if (equals <= 0) fail(`--env takes NAME=VALUE, not "${pair}"`);
  extraEnv[pair.slice(0, equals)] = pair.slice(equals + 1);
}
const smoke = values.smoke;
const settings = {
  durationSeconds: smoke ? 1 : Number(values.duration),
  warmupSeconds: values.warmup !== undefined ? Number(values.warmup) : smoke ? 0.25 : 2,
  connections: Number(values.connections),
  rounds: smoke ? 1 : Number(values.rounds),
  scaleClients: values.clients !== undefined ? Number(values.clients) : smoke ? 3 : 10,
  comparisonClients: smoke ? 3 : 10,
  /** At most this many distinct clients in the scale run's request rotation. */
  scaleRotation: 1000,
};
/** The in-process ceilings need no long runs to be stable; in smoke runs they only have to work. */
const ceilingSeconds = smoke ? { duration: 0.3, warmup: 0.1 } : { duration: settings.durationSeconds, warmup: settings.warmupSeconds };
for (const [flag, value, zeroAllowed] of [
  ["duration", settings.durationSeconds, false],
  ["warmup", settings.warmupSeconds, true],
  ["connections", settings.connections, false],
  ["rounds", settings.rounds, false],
  ["clients", settings.scaleClients, false],
] as const) {
  if (!Number.isFinite(value) || value < 0 || (!zeroAllowed && value === 0)) fail(`--${flag} must be a positive number`);
}

function selectScenarios(only: string | undefined): Set<Scenario> {
  if (!only) return new Set(SCENARIOS);
  const picked = new Set<Scenario>();
  for (const wanted of only.split(",").map((part) => part.trim()).filter(Boolean)) {
    const prefix = wanted === "ceilings" ? "ceiling" : wanted;
    const matches = SCENARIOS.filter((name) => name === prefix || name.startsWith(`${prefix}-`));
    if (matches.length === 0) fail(`unknown scenario "${wanted}"; known: ${SCENARIOS.join(", ")}`);
    for (const name of matches) picked.add(name);
  }
  return picked;
}
const selected = selectScenarios(values.only);

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

const results: Results = {
  meta: {
    date: new Date().toISOString(),
    commit: gitCommit(ROOT),
    ...(serverRoot !== ROOT ? { serverRoot, serverCommit: gitCommit(serverRoot) } : {}),
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    smoke,
    ...(Object.keys(extraEnv).length > 0 ? { tesseraEnv: extraEnv } : {}),
    loadAverageAtStart: os.loadavg().map((value) => Math.round(value * 100) / 100),
    ...settings,
  },
  scenarios: {},
  startup: {},
  rss: {},
};

// Everything started is stopped and everything created is removed, also on failure or Ctrl-C.
const cleanups: (() => Promise<void>)[] = [];
async function cleanUp(): Promise<void> {
  while (cleanups.length > 0) await cleanups.pop()!().catch((error: unknown) => process.stderr.write(`bench: cleanup: ${String(error)}\n`));
}
process.once("SIGINT", () => void cleanUp().then(() => process.exit(130)));
process.once("SIGTERM", () => void cleanUp().then(() => process.exit(143)));

const ADMIN: BenchClient = { clientId: "bench-admin", clientSecret: randomSecret() };
const KEK = randomBytes(32).toString("base64");

const benchStarted = performance.now();
function log(message: string): void {
  process.stderr.write(`[bench ${((performance.now() - benchStarted) / 1000).toFixed(1)}s] ${message}\n`);
}

function gitCommit(root: string): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
}

async function createSchema(): Promise<string> {
  const schema = `bench_${randomBytes(6).toString("hex")}`;
  assertSchemaName(schema);
  await withPostgres((db) => db.query(`CREATE SCHEMA "${schema}"`));
  cleanups.push(() => withPostgres(async (db) => void (await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))));
  return schema;
}

function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Abuse limits (src/oauth/abuse-limits.ts) off: 0 makes the address and client budgets return at
 * once and the lockout never count, so a throughput row measures issuance or introspection and
 * not a refusal (a fast machine outran the defaults: ~100k 429s in one introspection row).
 */
const LIMITS_OFF = { TESSERA_RATE_LIMIT_PER_IP: "0", TESSERA_RATE_LIMIT_PER_CLIENT: "0", TESSERA_LOCKOUT_THRESHOLD: "0" };
/**
 * Limits on at budgets the bench never reaches (the configuration's maxima): every request does
 * the limiter's bookkeeping (address budget taken and given back, client budget taken) and none
 * is refused, for the *-limited rows.
 */
const LIMITS_ON_UNREACHED = { TESSERA_RATE_LIMIT_PER_IP: "10000000", TESSERA_RATE_LIMIT_PER_CLIENT: "10000000", TESSERA_LOCKOUT_THRESHOLD: "10" };

function tesseraEnv(options: { port: number; dataDir: string; schema?: string; limits?: "off" | "on"; issuer?: string }): Record<string, string> {
  return {
    PORT: String(options.port),
    TESSERA_HOST: "127.0.0.1",
    TESSERA_ISSUER: options.issuer ?? `http://127.0.0.1:${options.port}`,
    TESSERA_DATA_DIR: options.dataDir,
    TESSERA_LOG_LEVEL: "warn",
    ...(options.limits === "on" ? LIMITS_ON_UNREACHED : LIMITS_OFF),
    ...extraEnv,
    TESSERA_ADMIN_CLIENT_ID: ADMIN.clientId,
    TESSERA_ADMIN_CLIENT_SECRET: ADMIN.clientSecret,
    ...(options.schema ? { DATABASE_URL: `${POSTGRES_BASE_URL}?schema=${options.schema}`, TESSERA_KEK: KEK } : {}),
  };
}

async function launchTessera(env: Record<string, string>, nodeFlags: readonly string[] = []): Promise<TesseraProcess> {
  const server = await startTessera(env, { nodeFlags, root: serverRoot });
  cleanups.push(() => server.stop());
  return server;
}

/**
 * Runs a load while sampling the RSS of `server` and counting its CPU time (all threads) from
 * the start of the measured run — or of the whole run for the gRPC client, which reports its
 * warm-up calls too — so each row also says what one request costs the server. A row that
 * reports `callsServed` (the server's own count) is divided by that instead.
 */
async function measured<R extends LoadResult | H2loadResult | ScenarioResult>(
  server: NodeProcess,
  run: (onMeasureStart: () => void) => Promise<R>,
): Promise<R & { rssPeakMiB: number; serverCpuMsPerRequest: number; serverMainThreadMsPerRequest: number }> {
  const sampler = sampleRss(server.pid);
  const cpuNow = () => ({ all: cpuSeconds(server.pid), main: mainThreadCpuSeconds(server.pid) });
  let atStart = cpuNow();
  try {
    const result = await run(() => (atStart = cpuNow()));
    const atEnd = cpuNow();
    const { peakMiB } = sampler.stop();
    // Calls the server served in the window when the row knows better than its load generator.
    const served = Number((result as { callsServed?: number }).callsServed ?? ("completedIncludingWarmup" in result ? result.completedIncludingWarmup : result.requests));
    const perRequest = (seconds: number) => (served > 0 ? Math.round((1e6 * seconds) / served) / 1000 : 0);
    return {
      ...result,
      rssPeakMiB: peakMiB,
      serverCpuMsPerRequest: perRequest(atEnd.all - atStart.all),
      serverMainThreadMsPerRequest: perRequest(atEnd.main - atStart.main),
    };
  } catch (error) {
    sampler.stop();
    throw error;
  }
}

/** Every round's row of each comparison scenario, in the order they ran. */
const roundRows = new Map<Scenario, ScenarioResult[]>();

function record(name: Scenario, row: ScenarioResult): void {
  // Other work on the machine skews a row; the 1-minute load average at its end says how much.
  const withLoad = { ...row, loadAverage: Math.round(os.loadavg()[0]! * 100) / 100 };
  const rows = [...(roundRows.get(name) ?? []), withLoad];
  roundRows.set(name, rows);
  results.scenarios[name] = rows.length === 1 ? withLoad : medianRound(rows);
  const invalid = voidReason(row);
  log(`${name}: ${row.requestsPerSecond} req/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, ${invalid ? `VOID (${invalid})` : "no errors"}${row.rssPeakMiB ? `, RSS ${row.rssPeakMiB} MiB` : ""}`);
}

/**
 * The round with the median requests/s (the lower middle one of an even count), with every
 * round's requests/s beside it, the errors of all rounds, and the RSS peak over all of them.
 * One void round voids the row: a median must not pick the round that happened to be clean.
 */
function medianRound(rows: readonly ScenarioResult[]): ScenarioResult {
  const sorted = [...rows].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
  const voids = rows.flatMap((row, i) => {
    const reason = voidReason(row);
    return reason === undefined ? [] : [`round ${i + 1}: ${reason}`];
  });
  const { void: _medianVoid, ...medianRow } = median;
  return {
    ...medianRow,
    ...(voids.length > 0 ? { void: voids.join("; ") } : {}),
    errors: rows.reduce((sum, row) => sum + row.errors, 0),
    rssPeakMiB: Math.max(...rows.map((row) => row.rssPeakMiB ?? 0)),
    roundsRequestsPerSecond: rows.map((row) => row.requestsPerSecond),
  };
}

const load = (url: string, requests: Parameters<typeof httpLoad>[0]["requests"]) => (onMeasureStart: () => void) =>
  httpLoad({ url, requests, connections: settings.connections, durationSeconds: settings.durationSeconds, warmupSeconds: settings.warmupSeconds, onMeasureStart });

const tokenRequests = (clients: readonly BenchClient[]) =>
  postRequests("/oauth/token", clients, (client) => ({ authorization: basicAuthorization(client), body: TOKEN_REQUEST_BODY }));

/**
 * The DPoP-bound rows need a fresh proof per request (each `jti` is accepted once). Proofs are
 * signed before each run — enough for DPOP_PROOFS_PER_SECOND over the warm-up and the measured
 * run, well within the server's iat window — and handed out in turn by autocannon's
 * setupRequest; should the pool run out, the replayed proofs show up as errors, not as speed.
 */
const DPOP_PROOFS_PER_SECOND = 12_000;

async function dpopTokenRequests(clients: readonly BenchClient[], tokenUrl: string) {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const jwk = await exportJWK(publicKey);
  const count = Math.ceil(DPOP_PROOFS_PER_SECOND * (settings.durationSeconds + settings.warmupSeconds));
  const iat = Math.floor(Date.now() / 1000);
  const proofs = await Promise.all(
    Array.from({ length: count }, () => new SignJWT({ jti: randomUUID(), htm: "POST", htu: tokenUrl }).setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk }).setIssuedAt(iat).sign(privateKey)),
  );
  let next = 0;
  const requests = tokenRequests(clients).map((request) => ({
    ...request,
    setupRequest: (prepared: typeof request) => ({ ...prepared, headers: { ...prepared.headers, dpop: proofs[next++ % proofs.length]! } }),
  }));
  return { requests, count };
}

/** Issue 21's set-up for the h2load rows: 8 connections; gRPC over h2c with 16 calls in flight on each. */
const H2LOAD_CONNECTIONS = 8;
const H2LOAD_GRPC_STREAMS = 16;
let h2load: H2loadAvailability | undefined;

const grpcPath = (service: { typeName: string }, method: { name: string }) => `/${service.typeName}/${method.name}`;

/**
 * The request an h2load row sends: one client (h2load repeats one request), as the matching
 * autocannon or grpc-js row sends it — Basic caller and the token's own client for
 * introspection, client credentials with scope bench:read for issuance.
 */
function h2loadTarget(name: string, baseUrl: string, client: BenchClient, token: string): { target: H2loadTarget; rpc?: string } {
  const grpc = (path: string, message: Uint8Array, headers: Record<string, string> = {}): H2loadTarget => ({
    url: `${baseUrl}${path}`,
    protocol: "h2c",
    streamsPerConnection: H2LOAD_GRPC_STREAMS,
    headers: { "content-type": "application/grpc", te: "trailers", ...headers },
    body: grpcFrame(message),
  });
  const form = (path: string, body: string): H2loadTarget => ({
    url: `${baseUrl}${path}`,
    protocol: "http/1.1",
    streamsPerConnection: 1,
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(client) },
    body: Buffer.from(body),
  });
  switch (name) {
    case "h2load-http-introspect":
      return { target: form("/oauth/introspect", new URLSearchParams({ token }).toString()) };
    case "h2load-http-token-rs256":
      return { target: form("/oauth/token", TOKEN_REQUEST_BODY) };
    case "h2load-grpc-authenticate-token": {
      const path = grpcPath(IntrospectionService, IntrospectionService.method.authenticateToken);
      const message = toBinary(AuthenticateTokenRequestSchema, create(AuthenticateTokenRequestSchema, { token, requiredScopes: [BENCH_SCOPE] }));
      return { target: grpc(path, message, { authorization: basicAuthorization(client) }), rpc: path.slice(1) };
    }
    case "h2load-grpc-issue-token-rs256": {
      const path = grpcPath(TokenService, TokenService.method.issueToken);
      const message = toBinary(
        IssueTokenRequestSchema,
        create(IssueTokenRequestSchema, {
          grantType: GrantType.CLIENT_CREDENTIALS,
          clientId: client.clientId,
          credential: { case: "clientSecret", value: client.clientSecret },
          scopes: [BENCH_SCOPE],
        }),
      );
      return { target: grpc(path, message), rpc: path.slice(1) };
    }
    default:
      throw new Error(`not an h2load row: ${name}`);
  }
}

/**
 * One h2load row, measured like the others. For gRPC, whose failures h2load cannot see (an HTTP
 * 200 with a non-OK grpc-status trailer), Tessera's own RPC counters are read before and after
 * the measured run: every call they counted must be OK, as many as h2load saw complete.
 */
async function h2loadRow(server: TesseraProcess, target: H2loadTarget, rpc: string | undefined): Promise<ScenarioResult> {
  h2load ??= ensureH2load(log);
  if ("missing" in h2load) {
    log(h2load.missing);
    return { requestsPerSecond: 0, p50Ms: 0, p99Ms: 0, errors: 0, void: h2load.missing };
  }
  const binary = h2load.binary;
  let before: Record<string, number> = {};
  return measured(server, async (onMeasureStart) => {
    const row = await h2loadRun({
      binary,
      target,
      connections: H2LOAD_CONNECTIONS,
      durationSeconds: settings.durationSeconds,
      warmupSeconds: settings.warmupSeconds,
      onMeasureStart,
      ...(rpc ? { beforeMeasure: async () => void (before = await settledRpcCounts(server.url, rpc)) } : {}),
    });
    if (rpc === undefined) return { ...row };
    // h2load stops with up to connections × streams calls in flight, which the server still
    // serves: the CPU window closes once its counters settle, and CPU per call divides by the
    // calls it counted (a few scrapes of /metrics are inside the window, well under 1%).
    const grpcStatus = rpcOutcomes(before, await settledRpcCounts(server.url, rpc), row.h2load);
    const notOk = Object.values(grpcStatus.notOk).reduce((sum, count) => sum + count, 0);
    return { ...row, errors: row.errors + notOk, grpcStatus, callsServed: grpcStatus.ok + notOk, ...(grpcStatus.mismatch ? { void: grpcStatus.mismatch } : {}) };
  });
}

/**
 * A transport-floor row: the same h2load settings, request size and headers as the h2load-* rows
 * against Tessera (the introspection form, or the AuthenticateToken message, with a Basic header),
 * sent to servers that answer at once.
 */
async function transportFloorRow(floor: ListeningProcess & { readonly h2Url: string }, grpc: boolean): Promise<ScenarioResult> {
  h2load ??= ensureH2load(log);
  if ("missing" in h2load) return { requestsPerSecond: 0, p50Ms: 0, p99Ms: 0, errors: 0, void: h2load.missing };
  const binary = h2load.binary;
  const authorization = basicAuthorization({ clientId: "x".repeat(22), clientSecret: "y".repeat(43) });
  const token = "t".repeat(800);
  const target: H2loadTarget = grpc
    ? {
        url: `${floor.h2Url}/tessera.v1.IntrospectionService/AuthenticateToken`,
        protocol: "h2c",
        streamsPerConnection: H2LOAD_GRPC_STREAMS,
        headers: { "content-type": "application/grpc", te: "trailers", authorization },
        body: grpcFrame(toBinary(AuthenticateTokenRequestSchema, create(AuthenticateTokenRequestSchema, { token, requiredScopes: [BENCH_SCOPE] }))),
      }
    : {
        url: `${floor.url}/oauth/introspect`,
        protocol: "http/1.1",
        streamsPerConnection: 1,
        headers: { "content-type": "application/x-www-form-urlencoded", authorization },
        body: Buffer.from(new URLSearchParams({ token }).toString()),
      };
  return measured(floor, async (onMeasureStart) => ({
    ...(await h2loadRun({ binary, target, connections: H2LOAD_CONNECTIONS, durationSeconds: settings.durationSeconds, warmupSeconds: settings.warmupSeconds, onMeasureStart })),
  }));
}

/** An introspection row whose answers are 200 but `active: false` would measure nothing: checked once before it runs. */
async function assertActive(baseUrl: string, client: BenchClient, token: string): Promise<void> {
  const response = await fetch(`${baseUrl}/oauth/introspect`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(client) },
    body: new URLSearchParams({ token }),
  });
  const text = await response.text();
  if (response.status !== 200 || (JSON.parse(text) as { active?: unknown }).active !== true) throw new Error(`introspection of the bench token did not answer active: ${response.status} ${text}`);
}

async function runCeilings(): Promise<void> {
  const names = CEILINGS.filter((name) => selected.has(name));
  if (names.length === 0) return;
  log(`ceilings: ${names.join(", ")}`);
  const ceilings = await runJsonScript<Record<string, ScenarioResult>>("bench/ceilings.ts", [
    "--duration", String(ceilingSeconds.duration),
    "--warmup", String(ceilingSeconds.warmup),
    "--concurrency", String(settings.connections),
    "--only", names.join(","),
  ]);
  for (const name of names) {
    const row = ceilings[name];
    if (!row) throw new Error(`ceilings.ts reported nothing for ${name}`);
    record(name, { ...row, serverMainThreadMsPerRequest: undefined, server: "in-process", note: name.includes("sync") || name.startsWith("ceiling-verify") ? "synchronous, one core" : `${row.inFlight ?? settings.connections} in flight` });
  }
}

/** The main run's PostgreSQL schema and environment, reused by the scale run once it is stopped. */
let mainDatabase: { schema: string; env: Record<string, string> } | undefined;

/** Tessera on PostgreSQL and the two oidc-provider peers, compared scenario by scenario. */
async function runComparisons(): Promise<void> {
  const wanted = MAIN.filter((name) => selected.has(name));
  if (wanted.length === 0) return;
  const needsTessera = wanted.some((name) => !name.startsWith("peer-") && !name.startsWith("floor-"));
  const needsPeer = (alg: "rs256" | "es256") => wanted.some((name) => name === `peer-token-${alg}` || (alg === "rs256" && name === "peer-introspect"));
  const needsFloor = (alg: "rs256" | "es256") => wanted.includes(`floor-token-${alg}`);
  const count = settings.comparisonClients;

  // The peers' clients: secrets of Tessera's shape and length.
  const peerClients = Array.from({ length: count }, (_, i) => ({ id: `bench-peer-${i}`, secret: randomSecret() }));
  const helpers = {
    rs256: needsPeer("rs256") ? startPeer({ port: await freePort(), alg: "RS256", clients: peerClients }) : undefined,
    es256: needsPeer("es256") ? startPeer({ port: await freePort(), alg: "ES256", clients: peerClients }) : undefined,
    floorRs256: needsFloor("rs256") ? startFloor({ port: await freePort(), alg: "RS256", clients: peerClients }) : undefined,
    floorEs256: needsFloor("es256") ? startFloor({ port: await freePort(), alg: "ES256", clients: peerClients }) : undefined,
    transportFloor: wanted.some((name) => name.startsWith("floor-transport-")) ? startTransportFloor({ port: await freePort(), h2Port: await freePort() }) : undefined,
  };
  for (const helper of Object.values(helpers)) helper?.then((started) => cleanups.push(() => started.stop()), () => {});

  let tessera: TesseraProcess | undefined;
  let limited: TesseraProcess | undefined;
  /** The one client and token of the h2load rows (fetched once, used by all four). */
  let h2loadCaller: { client: BenchClient; token: string } | undefined;
  let rsClients: BenchClient[] = [];
  let esClients: BenchClient[] = [];
  let federation: Awaited<ReturnType<typeof federationSetup>> | undefined;
  let delegation: Awaited<ReturnType<typeof delegationSetup>> | undefined;
  const nodeFlags = values["cpu-prof"] ? ["--cpu-prof", "--cpu-prof-dir", path.join(ROOT, "bench/profiles")] : [];
  if (needsTessera) {
    const schema = await createSchema();
    const env = tesseraEnv({ port: await freePort(), dataDir: tempDir("tessera-bench-"), schema });
    tessera = await launchTessera(env, nodeFlags);
    mainDatabase = { schema, env };
    results.startup["postgres-first-start"] = { ms: tessera.startupMs, clients: 0, note: "empty schema: migrations, key generation, bootstrap admin" };
    const api = await adminApi(tessera.url, ADMIN);
    rsClients = await registerClients(api, count, { prefix: "bench-rs256" });
    if (selected.has("tessera-token-es256") || selected.has("tessera-token-dpop-es256")) esClients = await registerClients(api, count, { prefix: "bench-es256", signingAlgorithm: "ES256" });
    if (selected.has("tessera-jwt-bearer-rs256")) federation = await federationSetup(tessera.url, ADMIN, rsClients);
    if (selected.has("tessera-token-exchange-rs256")) delegation = await delegationSetup(tessera.url, ADMIN, api, rsClients);
    results.rss["postgres-idle"] = { peakMiB: rssMiB(tessera.pid), note: `${2 * count + 1} clients, before any load` };
    if (wanted.some((name) => name.endsWith("-limited"))) {
      // A second replica on the same database and issuer (its tokens and clients are the main
      // one's), started after the clients exist, with the limits on.
      limited = await launchTessera(tesseraEnv({ port: await freePort(), dataDir: tempDir("tessera-bench-limited-"), schema, limits: "on", issuer: tessera.url }), nodeFlags);
    }
  }
  const peerRs = await helpers.rs256;
  const peerEs = await helpers.es256;
  const floorRs = await helpers.floorRs256;
  const floorEs = await helpers.floorEs256;
  const peerBasic = (client: { id: string; secret: string }) => basicAuthorization({ clientId: client.id, clientSecret: client.secret });

  for (let round = 1; round <= settings.rounds; round++) {
    if (settings.rounds > 1) log(`comparisons: round ${round} of ${settings.rounds}`);
    for (const name of wanted) {
      switch (name) {
        case "tessera-token-rs256":
        case "tessera-token-rs256-limited": {
          const server = name === "tessera-token-rs256-limited" ? limited! : tessera!;
          record(name, {
            ...(await measured(server, load(server.url, tokenRequests(rsClients)))),
            server: server === limited ? "tessera (limits on)" : "tessera",
            note: server === limited ? "as tessera-token-rs256 with the abuse limits on at budgets never reached (a second replica)" : `${count} clients, client_secret_basic`,
          });
          break;
        }
        case "h2load-http-introspect":
        case "h2load-grpc-authenticate-token":
        case "h2load-http-token-rs256":
        case "h2load-grpc-issue-token-rs256": {
          if (!h2loadCaller) {
            const client = rsClients[0]!;
            const token = await fetchToken(`${tessera!.url}/oauth/token`, client);
            await assertActive(tessera!.url, client, token);
            h2loadCaller = { client, token };
          }
          const { target, rpc } = h2loadTarget(name, tessera!.url, h2loadCaller.client, h2loadCaller.token);
          const what = {
            "h2load-http-introspect": "POST /oauth/introspect, HTTP/1.1, RS256 JWT, caller: the token's client, Basic",
            "h2load-grpc-authenticate-token": `gRPC AuthenticateToken, h2c × ${H2LOAD_GRPC_STREAMS} streams, RS256 JWT, caller: Basic, required scope`,
            "h2load-http-token-rs256": "POST /oauth/token, HTTP/1.1, client_secret_basic, RS256",
            "h2load-grpc-issue-token-rs256": `gRPC IssueToken, h2c × ${H2LOAD_GRPC_STREAMS} streams, client credentials, RS256`,
          }[name];
          record(name, { ...(await h2loadRow(tessera!, target, rpc)), server: "tessera", note: `h2load, ${H2LOAD_CONNECTIONS} connections, 1 client: ${what}` });
          break;
        }
        case "tessera-token-es256":
          record(name, { ...(await measured(tessera!, load(tessera!.url, tokenRequests(esClients)))), server: "tessera", note: `${count} clients with signing_algorithm ES256` });
          break;
        case "tessera-jwt-bearer-rs256":
          record(name, {
            ...(await measured(tessera!, load(tessera!.url, federation!.requests))),
            server: "tessera",
            note: `${count} clients, jwt-bearer with an RS256 workload token (keys cached), no client secret`,
          });
          break;
        case "tessera-token-exchange-rs256":
          record(name, {
            ...(await measured(tessera!, load(tessera!.url, delegation!.requests))),
            server: "tessera",
            note: `${count} actors exchanging RS256 subject tokens (client_secret_basic), act chain`,
          });
          break;
        case "tessera-token-dpop-rs256":
        case "tessera-token-dpop-es256": {
          // Against tessera-token-* of the same run: the proof's verification and the replay
          // record (memory, then one insert) are what DPoP adds to an issuance.
          const clients = name === "tessera-token-dpop-rs256" ? rsClients : esClients;
          const { requests, count: proofs } = await dpopTokenRequests(clients, `${tessera!.url}/oauth/token`);
          record(name, {
            ...(await measured(tessera!, load(tessera!.url, requests))),
            server: "tessera",
            note: `${count} clients (tokens ${name.endsWith("es256") ? "ES256" : "RS256"}), each request a fresh ES256 DPoP proof (${proofs} pre-signed)`,
          });
          break;
        }
        case "peer-token-rs256":
        case "peer-token-es256": {
          const peer = name === "peer-token-rs256" ? peerRs! : peerEs!;
          const requests = postRequests("/token", peerClients, (client) => ({ authorization: peerBasic(client), body: TOKEN_REQUEST_BODY }));
          record(name, { ...(await measured(peer, load(peer.url, requests))), server: "oidc-provider", note: `${count} clients, client_secret_basic` });
          break;
        }
        case "floor-token-rs256":
        case "floor-token-es256": {
          const floor = name === "floor-token-rs256" ? floorRs! : floorEs!;
          const requests = tokenRequests(peerClients.map((client) => ({ clientId: client.id, clientSecret: client.secret })));
          record(name, { ...(await measured(floor, load(floor.url, requests))), server: "bare node:http", note: "floor: no validation, limits, metrics, logs (bench/floor-server.ts)" });
          break;
        }
        case "floor-transport-http1":
        case "floor-transport-grpc": {
          const floor = await helpers.transportFloor!;
          record(name, {
            ...(await transportFloorRow(floor, name === "floor-transport-grpc")),
            server: name === "floor-transport-grpc" ? "bare node:http2 stream" : "bare node:http",
            note: `transport floor, h2load as the h2load-* rows: ${name === "floor-transport-grpc" ? `a gRPC-shaped answer (headers, one message, trailers), h2c × ${H2LOAD_GRPC_STREAMS} streams` : "a small JSON answer, HTTP/1.1"}; no parsing, auth or encoding (bench/transport-floor-server.ts)`,
          });
          break;
        }
        case "tessera-introspect":
        case "tessera-introspect-limited":
        case "tessera-introspect-bearer": {
          // The limited replica shares the main one's database and issuer: either takes the other's tokens.
          const server = name === "tessera-introspect-limited" ? limited! : tessera!;
          const tokens = await Promise.all(rsClients.map((client) => fetchToken(`${server.url}/oauth/token`, client)));
          await assertActive(server.url, rsClients[0]!, tokens[0]!);
          const bearer = name === "tessera-introspect-bearer" ? `Bearer ${await fetchToken(`${server.url}/oauth/token`, ADMIN, { scope: "tessera:introspect" })}` : undefined;
          const requests = postRequests("/oauth/introspect", rsClients.map((client, i) => ({ client, token: tokens[i]! })), ({ client, token }) => ({
            authorization: bearer ?? basicAuthorization(client),
            body: new URLSearchParams({ token }).toString(),
          }));
          record(name, {
            ...(await measured(server, load(server.url, requests))),
            server: server === limited ? "tessera (limits on)" : "tessera",
            note:
              name === "tessera-introspect-limited"
                ? "as tessera-introspect with the abuse limits on at budgets never reached (a second replica)"
                : bearer
                  ? "RS256 JWT; caller: Bearer token with tessera:introspect"
                  : "RS256 JWT; caller: the token's client, Basic",
          });
          break;
        }
        case "peer-introspect": {
          // oidc-provider 9 answers unsupported_token_type for JWT access tokens, so its
          // introspection is measured on opaque tokens (a lookup in its in-memory adapter).
          const tokens = await Promise.all(
            peerClients.map((client) => fetchToken(`${peerRs!.url}/token`, { clientId: client.id, clientSecret: client.secret }, { resource: "https://opaque.bench.example" })),
          );
          const requests = postRequests("/token/introspection", peerClients.map((client, i) => ({ client, token: tokens[i]! })), ({ client, token }) => ({
            authorization: peerBasic(client),
            body: new URLSearchParams({ token }).toString(),
          }));
          record(name, {
            ...(await measured(peerRs!, load(peerRs!.url, requests))),
            server: "oidc-provider",
            note: "OPAQUE token (oidc-provider 9 cannot introspect JWT access tokens); caller: Basic",
          });
          break;
        }
        case "grpc-issue-token":
        case "grpc-authenticate-token": {
          const dir = tempDir("tessera-bench-grpc-");
          const clientsFile = path.join(dir, "clients.json");
          writeFileSync(clientsFile, JSON.stringify(rsClients));
          const args = [
            "--address", new URL(tessera!.url).host,
            "--clients", clientsFile,
            "--concurrency", String(settings.connections),
            "--duration", String(settings.durationSeconds),
            "--warmup", String(settings.warmupSeconds),
          ];
          if (name === "grpc-authenticate-token") {
            const tokensFile = path.join(dir, "tokens.json");
            writeFileSync(tokensFile, JSON.stringify(await Promise.all(rsClients.map((client) => fetchToken(`${tessera!.url}/oauth/token`, client)))));
            args.push("--rpc", "AuthenticateToken", "--token-file", tokensFile);
          } else {
            args.push("--rpc", "IssueToken");
          }
          const row = await measured(tessera!, () => runJsonScript<ScenarioResult>("bench/grpc-load.ts", args));
          record(name, {
            ...row,
            server: "tessera",
            note:
              name === "grpc-issue-token"
                ? `real client (grpc-js): gRPC (h2c), RS256, ${count} clients, 4 channels`
                : "real client (grpc-js): gRPC (h2c), RS256 JWT, caller: Basic, required scope",
          });
          break;
        }
      }
    }
  }
  if (tessera) {
    const rows = wanted.filter((name) => !name.startsWith("peer-")).map((name) => results.scenarios[name]?.rssPeakMiB ?? 0);
    results.rss["postgres-under-load"] = { peakMiB: Math.max(...rows), note: `peak over the Tessera scenarios above (${2 * count + 1} clients)` };
  }
  await Promise.all([tessera?.stop(), limited?.stop(), peerRs?.stop(), peerEs?.stop(), floorRs?.stop(), floorEs?.stop()]);
  if (tessera && values["cpu-prof"]) log("CPU profile written to bench/profiles/ (summary: node --import tsx bench/profile-summary.ts bench/profiles/<file>)");
}

/**
 * Tessera on the embedded database (PGlite inside the Tessera process): the first start creates
 * the data directory (initdb, the RSS peak); RSS under load is measured after a restart on it,
 * as a deployment runs most of its life.
 */
async function runPglite(): Promise<void> {
  if (!selected.has("pglite-token-rs256")) return;
  const count = settings.comparisonClients;
  const dataDir = path.join(tempDir("tessera-bench-pglite-"), "data");
  // Private, as Tessera requires of an existing data directory.
  mkdirSync(dataDir, { mode: 0o700 });
  const env = tesseraEnv({ port: await freePort(), dataDir });
  const first = await launchTessera(env);
  results.startup["pglite-first-start"] = { ms: first.startupMs, clients: 0, note: "fresh data directory: initdb, migrations, key generation" };
  results.rss["pglite-first-start"] = { peakMiB: rssMiB(first.pid), note: "just after the first start (initdb)" };
  const clients = await registerClients(await adminApi(first.url, ADMIN), count, { prefix: "bench-pglite" });
  await first.stop();
  const tessera = await launchTessera(env);
  results.startup["pglite-restart"] = { ms: tessera.startupMs, clients: count, note: "existing data directory" };
  results.rss["pglite-idle"] = { peakMiB: rssMiB(tessera.pid), note: `restarted, ${count + 1} clients, before any load` };
  const row = await measured(tessera, load(tessera.url, tokenRequests(clients)));
  record("pglite-token-rs256", { ...row, server: "tessera (PGlite)", note: `${count} clients, embedded database, after a restart` });
  results.rss["pglite-under-load"] = { peakMiB: row.rssPeakMiB, note: "peak during pglite-token-rs256" };
  await tessera.stop();
}

/**
 * Many clients: N rows inserted with SQL into a migrated schema, then a fresh Tessera is timed
 * from spawn to ready and driven like tessera-token-rs256, rotating over up to 1,000 of the
 * clients spread evenly over all N.
 */
async function runScale(): Promise<void> {
  if (!selected.has("scale-token-rs256")) return;
  const total = settings.scaleClients;
  // The main run's schema when there was one (migrated, keys made); otherwise a first start makes one.
  let database = mainDatabase;
  if (!database) {
    const schema = await createSchema();
    database = { schema, env: tesseraEnv({ port: await freePort(), dataDir: tempDir("tessera-bench-scale-"), schema }) };
    await (await launchTessera(database.env)).stop();
  }
  const { schema, env } = database;
  const insertStarted = performance.now();
  const inserted = await insertClients(schema, total);
  const insertMs = Math.round(performance.now() - insertStarted);
  log(`scale: inserted ${total} clients in ${insertMs} ms; starting a fresh Tessera`);
  const tessera = await launchTessera(env);
  const present = (mainDatabase ? 2 * settings.comparisonClients : 0) + 1;
  results.startup["postgres-scale-start"] = {
    ms: tessera.startupMs,
    clients: total + present,
    note: `fresh process; ${total} clients inserted with SQL (${insertMs} ms) beside ${present} registered earlier`,
  };
  results.rss["postgres-scale-idle"] = { peakMiB: rssMiB(tessera.pid), note: `${total + present} clients, after start-up` };
  const rotation = Math.min(total, settings.scaleRotation);
  const step = total / rotation;
  const clients = Array.from({ length: rotation }, (_, i) => inserted.clientAt(1 + Math.floor(i * step)));
  const row = await measured(tessera, load(tessera.url, tokenRequests(clients)));
  record("scale-token-rs256", {
    ...row,
    server: "tessera",
    note: `${total} clients in the database, rotating over ${rotation}`,
    clients: total,
    startupMs: tessera.startupMs,
  });
  results.rss["postgres-scale-under-load"] = { peakMiB: row.rssPeakMiB, note: `${total + present} clients, peak during scale-token-rs256` };
  await tessera.stop();
}

let exitCode = 0;
try {
  if (smoke) {
    // Nothing is measured in a smoke run, so the slow embedded-database start overlaps the rest.
    await Promise.all([runPglite(), (async () => (await runCeilings(), await runComparisons()))()]);
  } else {
    await runCeilings();
    await runComparisons();
    await runPglite();
  }
  await runScale();
} catch (error) {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  exitCode = 1;
} finally {
  await cleanUp();
}
if (exitCode === 0) {
  results.meta.loadAverageAtEnd = os.loadavg().map((value) => Math.round(value * 100) / 100);
  printReport(results);
  writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
  log(`wrote ${path.relative(ROOT, resultsFile)}`);
}
process.exit(exitCode);

