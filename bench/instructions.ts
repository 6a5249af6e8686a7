/**
 * Instructions per request on Tessera's event loop, counted by valgrind's callgrind: for
 * judging changes that this machine's run-to-run noise (±10–30% in req/s, ±10% in CPU per
 * request) hides. The count does not depend on what else the machine does; it still moves
 * ±5% between runs (three runs of one build: 190k, 201k, 210k per introspection), as V8
 * optimizes functions at different moments, so compare medians of a few runs. It ignores the
 * kernel and cache effects: confirm a gain with `npm run bench` afterwards.
 *
 *   npm run bench:instructions -- [--kind introspect|introspect-bearer|token] [--requests 3000]
 *                                 [--warmup 15000] [--server-root dir] [--keep]
 *
 * Tessera runs under valgrind on the PostgreSQL at 127.0.0.1:5432 (a fresh bench_ schema, so
 * no WebAssembly PGlite under valgrind), with --perf-basic-prof. Counting starts after the
 * warm-up, when the hot functions are optimized, and stops after the measured requests; each
 * thread is counted on its own, and the event loop's count is the figure. With --keep the
 * callgrind files and V8's perf map stay for `callgrind_annotate` (JIT frames appear as
 * addresses; the perf map names them).
 *
 * Under valgrind time runs ~30× slower, so timers (the storage probe, resyncs) weigh ~30× more
 * per request than in real runs: a few thousand instructions of pg-protocol and Prisma frames.
 */
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { POSTGRES_BASE_URL, adminApi, assertSchemaName, basicAuthorization, fetchToken, randomSecret, registerClients, withPostgres, type BenchClient } from "./clients.js";
import { freePort } from "../test/support/ports.js";
import { ROOT } from "./processes.js";

const KINDS = ["introspect", "introspect-bearer", "token"] as const;
type Kind = (typeof KINDS)[number];

const { values } = parseArgs({
  options: {
    kind: { type: "string", default: "introspect" },
    requests: { type: "string", default: "3000" },
    warmup: { type: "string", default: "15000" },
    "server-root": { type: "string" },
    keep: { type: "boolean", default: false },
  },
});
const kind = values.kind as Kind;
if (!KINDS.includes(kind)) throw new Error(`--kind must be one of ${KINDS.join(", ")}`);
const requests = Number(values.requests);
const warmup = Number(values.warmup);
const root = values["server-root"] ? path.resolve(values["server-root"]) : ROOT;
if (!existsSync(path.join(root, "dist/main.cjs"))) throw new Error(`${root} has no dist/main.cjs: run npm run build there`);
execFileSync("valgrind", ["--version"]);

const CONCURRENCY = 4;
const admin: BenchClient = { clientId: "bench-admin", clientSecret: randomSecret() };
const schema = `bench_${randomBytes(6).toString("hex")}`;
assertSchemaName(schema);
const outDir = mkdtempSync(path.join(os.tmpdir(), "tessera-callgrind-"));
const port = await freePort();
const url = `http://127.0.0.1:${port}`;

await withPostgres((db) => db.query(`CREATE SCHEMA "${schema}"`));
const server = spawn("valgrind", ["--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes", `--callgrind-out-file=${outDir}/callgrind.out`, "node", "--perf-basic-prof", `--logfile=${outDir}/v8.log`, "--no-logfile-per-isolate", "dist/main.cjs"], {
  cwd: root,
  stdio: ["ignore", "ignore", "pipe"],
  env: {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "",
    PORT: String(port),
    TESSERA_HOST: "127.0.0.1",
    TESSERA_ISSUER: url,
    TESSERA_DATA_DIR: outDir,
    TESSERA_LOG_LEVEL: "warn",
    TESSERA_ADMIN_CLIENT_ID: admin.clientId,
    TESSERA_ADMIN_CLIENT_SECRET: admin.clientSecret,
    DATABASE_URL: `${POSTGRES_BASE_URL}?schema=${schema}`,
    TESSERA_KEK: randomBytes(32).toString("base64"),
    MALLOC_ARENA_MAX: "2",
  },
});
let stderr = "";
server.stderr!.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString("utf8")).slice(-8192)));
const exited = new Promise((resolve) => server.once("exit", resolve));

try {
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`tessera under valgrind exited:\n${stderr}`);
    if (Date.now() > deadline) throw new Error(`tessera under valgrind was not ready in 300 s:\n${stderr}`);
    const ready = await fetch(`${url}/readyz`).then((response) => response.text().then(() => response.status === 200), () => false);
    if (ready) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const clients = await registerClients(await adminApi(url, admin), 4, { prefix: "callgrind" });
  const tokens = await Promise.all(clients.map((client) => fetchToken(`${url}/oauth/token`, client)));
  const bearer = kind === "introspect-bearer" ? `Bearer ${await fetchToken(`${url}/oauth/token`, admin, { scope: "tessera:introspect" })}` : undefined;

  const send = async (count: number) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < count) {
          const i = next++ % clients.length;
          const response = await fetch(`${url}${kind === "token" ? "/oauth/token" : "/oauth/introspect"}`, {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded", authorization: bearer ?? basicAuthorization(clients[i]!) },
            body: kind === "token" ? "grant_type=client_credentials" : new URLSearchParams({ token: tokens[i]! }).toString(),
          });
          await response.text();
          if (response.status !== 200) throw new Error(`${kind} answered ${response.status}`);
        }
      }),
    );
  };
  await send(warmup);
  execFileSync("callgrind_control", ["--instr=on", String(server.pid)], { stdio: "ignore" });
  await send(requests);
  execFileSync("callgrind_control", ["--instr=off", String(server.pid)], { stdio: "ignore" });
  execFileSync("callgrind_control", ["--dump", String(server.pid)], { stdio: "ignore" });
} finally {
  server.kill("SIGTERM");
  await exited;
  await withPostgres((db) => db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

// One file per thread and dump: callgrind.out.<dump>-<thread>; thread 01 is the event loop.
let eventLoop = 0;
let all = 0;
for (const file of readdirSync(outDir).filter((name) => /^callgrind\.out\.\d+-\d+$/.test(name))) {
  const totals = [...readFileSync(path.join(outDir, file), "utf8").matchAll(/^(?:summary|totals): (\d+)/gm)].map((match) => Number(match[1]));
  const instructions = Math.max(0, ...totals);
  all += instructions;
  if (file.endsWith("-01")) eventLoop = instructions;
}
const perfMap = `/tmp/perf-${server.pid}.map`;
console.log(
  JSON.stringify({
    kind,
    requests,
    warmup,
    serverRoot: root,
    eventLoopInstructionsPerRequest: Math.round(eventLoop / requests),
    allThreadsInstructionsPerRequest: Math.round(all / requests),
    ...(values.keep ? { callgrindFiles: outDir, perfMap } : {}),
  }),
);
if (!values.keep) {
  rmSync(outDir, { recursive: true, force: true });
  rmSync(perfMap, { force: true });
}
