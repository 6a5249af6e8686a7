/**
 * h2load (nghttp2's load generator in C, Debian package nghttp2-client) for the rows that set
 * Tessera's gRPC surface beside its HTTP one: the same low-overhead generator drives both
 * (`--h1` for HTTP/1.1, h2c with several streams per connection for gRPC), so a ratio between
 * them measures the server and not two clients of different cost. The grpc-js rows stay as the
 * view of a real client.
 *
 * h2load sends one fixed request (headers and body) per row, so a row uses one client; it does
 * not read gRPC trailers, so gRPC outcomes are counted from Tessera's own metrics (rpc-metrics.ts).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { percentile } from "./stats.js";

export const H2LOAD_PACKAGE = "nghttp2-client";

/** The first executable `command` on `searchPath` (a PATH value), if any. */
export function findOnPath(command: string, searchPath: string = process.env.PATH ?? ""): string | undefined {
  for (const dir of searchPath.split(path.delimiter)) {
    if (dir === "") continue;
    const candidate = path.join(dir, command);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

export interface InstallCommand {
  readonly command: string;
  readonly args: readonly string[];
  /** Printed in messages: what an operator would type. */
  readonly display: string;
}

/**
 * How the bench installs h2load: apt-get, non-interactive (DEBIAN_FRONTEND through `env`, which
 * sudo would otherwise drop), through `sudo -n` (never a password prompt) unless already root.
 */
export function h2loadInstallCommand(options: { isRoot: boolean }): InstallCommand {
  // The lock timeout waits for another apt run (a test installing packages) instead of failing.
  const aptGet = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-o", "DPkg::Lock::Timeout=120", "install", "-y", "--no-install-recommends", H2LOAD_PACKAGE];
  const full = options.isRoot ? aptGet : ["sudo", "-n", ...aptGet];
  return { command: full[0]!, args: full.slice(1), display: full.join(" ") };
}

/** `apt-get update`, run the way the install command runs (same sudo and environment). */
function aptUpdateCommand(install: InstallCommand): InstallCommand {
  const full = [install.command, ...install.args];
  const at = full.indexOf("install");
  const update = [...full.slice(0, at), "update"];
  return { command: update[0]!, args: update.slice(1), display: update.join(" ") };
}

export type H2loadAvailability = { readonly binary: string } | { readonly missing: string };

/**
 * h2load's path, installing the package first when it is not on PATH; if that fails, a message
 * saying what to install (the h2load rows are then reported as void with it, the others run).
 */
export function ensureH2load(log: (message: string) => void): H2loadAvailability {
  const found = findOnPath("h2load");
  if (found) return { binary: found };
  const install = h2loadInstallCommand({ isRoot: process.getuid?.() === 0 });
  log(`h2load is not on PATH; installing it: ${install.display}`);
  // apt-get's output goes to stderr with the progress lines: stdout carries the report.
  let outcome = spawnSync(install.command, install.args, { stdio: ["ignore", 2, 2], timeout: 300_000 });
  if (!findOnPath("h2load")) {
    // A fresh machine may have no package lists yet: fetch them, then try once more.
    const update = aptUpdateCommand(install);
    log(`installing h2load failed; updating the package lists first: ${update.display}`);
    spawnSync(update.command, update.args, { stdio: ["ignore", 2, 2], timeout: 300_000 });
    outcome = spawnSync(install.command, install.args, { stdio: ["ignore", 2, 2], timeout: 300_000 });
  }
  const installed = findOnPath("h2load");
  if (installed) return { binary: installed };
  const why = outcome.error ? outcome.error.message : `exit ${String(outcome.status ?? outcome.signal)}`;
  return {
    missing: `h2load is not installed and \`${install.display}\` failed (${why}): install Debian's ${H2LOAD_PACKAGE} package (apt-get install ${H2LOAD_PACKAGE}), which provides /usr/bin/h2load, to run the h2load-* rows`,
  };
}

/** What one h2load row sends, on every stream of every connection. */
export interface H2loadTarget {
  /** Full URL, path included. */
  readonly url: string;
  readonly protocol: "http/1.1" | "h2c";
  /** Calls in flight per connection: 1 for HTTP/1.1 (no pipelining). */
  readonly streamsPerConnection: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/**
 * h2load's summary lines. "succeeded" are calls completed with a 2xx or 3xx status; "failed"
 * the other completed calls plus the "errored" ones (reset or broken streams), so done =
 * succeeded + failed; the status counts include answers whose body had not arrived when the
 * run ended.
 */
export interface H2loadSummary {
  readonly seconds: number;
  readonly requestsPerSecond: number;
  readonly total: number;
  readonly started: number;
  readonly done: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly errored: number;
  readonly timeout: number;
  readonly status: { readonly "2xx": number; readonly "3xx": number; readonly "4xx": number; readonly "5xx": number };
}

export function parseH2loadOutput(stdout: string): H2loadSummary {
  const finished = /^finished in ([\d.]+)(ms|s), ([\d.]+) req\/s/m.exec(stdout);
  const requests = /^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/m.exec(stdout);
  const status = /^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/m.exec(stdout);
  if (!finished || !requests || !status) throw new Error(`h2load printed no summary:\n${stdout.slice(-2000)}`);
  const [total, started, done, succeeded, failed, errored, timeout] = requests.slice(1).map(Number) as [number, number, number, number, number, number, number];
  return {
    seconds: Number(finished[1]) / (finished[2] === "ms" ? 1000 : 1),
    requestsPerSecond: Math.round(Number(finished[3])),
    total,
    started,
    done,
    succeeded,
    failed,
    errored,
    timeout,
    status: { "2xx": Number(status[1]), "3xx": Number(status[2]), "4xx": Number(status[3]), "5xx": Number(status[4]) },
  };
}

/** Whole milliseconds, which h2load's duration options take (it refuses "0.25"). */
const duration = (seconds: number) => `${Math.max(1, Math.round(seconds * 1000))}ms`;

export function h2loadArgs(target: H2loadTarget, options: { connections: number; seconds: number; bodyFile: string; logFile: string; timeoutSeconds: number }): string[] {
  return [
    ...(target.protocol === "http/1.1" ? ["--h1"] : []),
    "--clients", String(options.connections),
    "--threads", "1",
    "--max-concurrent-streams", String(target.protocol === "http/1.1" ? 1 : target.streamsPerConnection),
    "--duration", duration(options.seconds),
    // A connection silent this long counts its calls as timed out, as autocannon's timeout does.
    "--connection-inactivity-timeout", duration(options.timeoutSeconds),
    "--data", options.bodyFile,
    ...Object.entries(target.headers).flatMap(([name, value]) => ["--header", `${name}: ${value}`]),
    "--log-file", options.logFile,
    target.url,
  ];
}

export interface H2loadResult {
  /** Calls completed with a 2xx or 3xx status per second over the measured run (h2load's req/s counts failures too). */
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Non-2xx answers + errored streams + timed-out connections' calls. */
  readonly errors: number;
  /** Calls completed with a 2xx or 3xx status in the measured run (3xx voids the row anyway). */
  readonly requests: number;
  readonly seconds: number;
  readonly statusCodes: Record<string, number>;
  readonly h2load: H2loadSummary;
}

/**
 * A warm-up run (thrown away), then `beforeMeasure`, `onMeasureStart` and the measured run.
 * Latency percentiles come from h2load's per-request log (its summary has none).
 */
export async function h2loadRun(options: {
  binary: string;
  target: H2loadTarget;
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  timeoutSeconds?: number;
  beforeMeasure?: () => Promise<void>;
  onMeasureStart?: () => void;
}): Promise<H2loadResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tessera-bench-h2load-"));
  try {
    const bodyFile = path.join(dir, "body");
    writeFileSync(bodyFile, options.target.body);
    const run = (seconds: number, logFile: string) =>
      runProcess(options.binary, h2loadArgs(options.target, { connections: options.connections, seconds, bodyFile, logFile, timeoutSeconds: options.timeoutSeconds ?? 10 }));
    if (options.warmupSeconds > 0) await run(options.warmupSeconds, path.join(dir, "warmup.log"));
    await options.beforeMeasure?.();
    options.onMeasureStart?.();
    const logFile = path.join(dir, "measured.log");
    const summary = parseH2loadOutput(await run(options.durationSeconds, logFile));
    const latencies = readLatenciesMs(logFile);
    const non2xx = summary.status["3xx"] + summary.status["4xx"] + summary.status["5xx"];
    const completed = summary.succeeded;
    return {
      requestsPerSecond: summary.seconds > 0 ? Math.round(completed / summary.seconds) : 0,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      errors: non2xx + summary.errored + summary.timeout,
      requests: completed,
      seconds: summary.seconds,
      statusCodes: { ...summary.status },
      h2load: summary,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Milliseconds to the end of each answered request (status -1 marks a failed stream), ascending. */
function readLatenciesMs(logFile: string): number[] {
  const latencies: number[] = [];
  for (const line of readFileSync(logFile, "utf8").split("\n")) {
    const [, status, micros] = line.split("\t");
    if (status === undefined || status === "-1" || micros === undefined) continue;
    latencies.push(Number(micros) / 1000);
  }
  return latencies.sort((a, b) => a - b);
}

function runProcess(binary: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
      if (stderr.length > 64 * 1024) stderr = stderr.slice(-32 * 1024);
    });
    child.once("error", reject);
    child.once("exit", (code, signal) =>
      code === 0 ? resolve(stdout) : reject(new Error(`h2load exited ${String(code ?? signal)}: ${stderr.slice(-2000)}${stdout.slice(-2000)}`)),
    );
  });
}

/** The gRPC length-prefixed message: a flag byte (0, not compressed), the length (big-endian), the message. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}
