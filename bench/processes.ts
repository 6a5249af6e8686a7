/**
 * The benchmark's server processes: Tessera (`node dist/main.cjs`, the build `npm start` runs)
 * and the oidc-provider peer, each in a process of its own, plus RSS sampling from /proc and helper scripts that print one JSON line.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export interface NodeProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** stdout and stderr so far, for failure reports. */
  output(): string;
  readonly exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * `node [--import tsx] [nodeFlags] <script> …args` from the repository root, with a minimal
 * environment; TypeScript scripts go through tsx, compiled ones run as they are.
 */
export function spawnNode(
  script: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  options: { nodeFlags?: readonly string[]; cwd?: string } = {},
): NodeProcess {
  const loader = script.endsWith(".ts") ? ["--import", "tsx"] : [];
  const child = spawn(process.execPath, [...loader, ...(options.nodeFlags ?? []), script, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString("utf8");
    // Keep the tail only: a long run must not grow the harness's heap.
    if (output.length > 256 * 1024) output = output.slice(-128 * 1024);
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    pid: child.pid!,
    output: () => output,
    exited,
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Runs a helper script to completion and parses the last line of its stdout as JSON. */
export async function runJsonScript<T>(script: string, args: readonly string[]): Promise<T> {
  const helper = spawnNode(script, args, {});
  let stdout = "";
  helper.child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  const code = await helper.exited;
  const last = stdout.trim().split("\n").pop() ?? "";
  if (code !== 0) throw new Error(`${script} exited ${code}:\n${helper.output().slice(-4000)}`);
  return JSON.parse(last) as T;
}

export interface TesseraProcess extends NodeProcess {
  readonly url: string;
  /** From spawn to the first 200 from GET /readyz. */
  readonly startupMs: number;
}

/**
 * Starts Tessera and waits until /readyz answers 200. (At TESSERA_LOG_LEVEL=warn the
 * "tessera listening" info line is not written, so readiness is polled instead; the listener
 * opens only after clients, keys and revocations are in memory.)
 */
export async function startTessera(
  env: Readonly<Record<string, string>>,
  options: { nodeFlags?: readonly string[]; timeoutMs?: number; root?: string } = {},
): Promise<TesseraProcess> {
  const timeoutMs = options.timeoutMs ?? 180_000;
  const started = performance.now();
  // As `npm start` runs it (see package.json): compiled, with two glibc malloc arenas and
  // allocations from 64 KiB up mapped on their own.
  const root = options.root ?? ROOT;
  // Checkouts from before the CommonJS entry (--server-root comparisons) start dist/main.js.
  const entry = existsSync(path.join(root, "dist/main.cjs")) ? "dist/main.cjs" : "dist/main.js";
  const server = spawnNode(entry, [], { MALLOC_ARENA_MAX: "2", MALLOC_MMAP_THRESHOLD_: "65536", ...env }, { ...(options.nodeFlags ? { nodeFlags: options.nodeFlags } : {}), cwd: root });
  const url = `http://127.0.0.1:${env.PORT}`;
  const deadline = started + timeoutMs;
  for (;;) {
    if (server.child.exitCode !== null) throw new Error(`tessera exited (${server.child.exitCode}) before it was ready:\n${server.output().slice(-4000)}`);
    if (performance.now() > deadline) {
      await server.stop(1000);
      throw new Error(`tessera was not ready after ${timeoutMs} ms:\n${server.output().slice(-4000)}`);
    }
    try {
      const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (response.status === 200) break;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { ...server, url, startupMs: Math.round(performance.now() - started) };
}

export interface ListeningProcess extends NodeProcess {
  readonly url: string;
}

/** Starts a helper server script that prints `{"ready":true,…}` on stdout once it listens. */
async function startListening(script: string, port: number, env: Readonly<Record<string, string>>): Promise<ListeningProcess> {
  const server = spawnNode(script, [], env);
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      if (chunk.toString("utf8").includes('"ready":true')) {
        server.child.stdout!.off("data", onData);
        resolve();
      }
    };
    server.child.stdout!.on("data", onData);
    void server.exited.then((code) => reject(new Error(`${script} exited (${code}) before it was ready:\n${server.output()}`)));
  });
  return { ...server, url: `http://127.0.0.1:${port}` };
}

type Alg = "RS256" | "ES256";
type PlainClient = { readonly id: string; readonly secret: string };

/** node-oidc-provider configured for Tessera's job (bench/peer-server.ts). */
export function startPeer(options: { port: number; alg: Alg; clients: readonly PlainClient[] }): Promise<ListeningProcess> {
  return startListening("bench/peer-server.ts", options.port, {
    PEER_PORT: String(options.port),
    PEER_ALG: options.alg,
    PEER_CLIENTS: JSON.stringify(options.clients),
  });
}

/** The bare node:http token endpoint (bench/floor-server.ts). */
export function startFloor(options: { port: number; alg: Alg; clients: readonly PlainClient[] }): Promise<ListeningProcess> {
  return startListening("bench/floor-server.ts", options.port, {
    FLOOR_PORT: String(options.port),
    FLOOR_ALG: options.alg,
    FLOOR_CLIENTS: JSON.stringify(options.clients),
  });
}

/** The bare HTTP/1.1 and h2c servers of the transport floor (bench/transport-floor-server.ts), on two ports. */
export async function startTransportFloor(options: { port: number; h2Port: number }): Promise<ListeningProcess & { readonly h2Url: string }> {
  const server = await startListening("bench/transport-floor-server.ts", options.port, { TFLOOR_PORT: String(options.port), TFLOOR_H2_PORT: String(options.h2Port) });
  return { ...server, h2Url: `http://127.0.0.1:${options.h2Port}` };
}

/** Resident set size of a process in MiB (VmRSS in /proc/<pid>/status); 0 if it is gone. */
export function rssMiB(pid: number): number {
  try {
    const kib = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    return Math.round((kib / 1024) * 10) / 10;
  } catch {
    return 0;
  }
}

const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU time a process has used so far, all threads, user + system, in seconds (fields 14 and 15
 * of /proc/<pid>/stat, in clock ticks of 1/100 s on Linux); NaN if it is gone.
 */
export function cpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/** CPU time of the process's main thread (the event loop) alone, in seconds. */
export function mainThreadCpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/task/${pid}/stat`);
}

function statCpuSeconds(file: string): number {
  try {
    const stat = readFileSync(file, "utf8");
    // The command name (field 2) may hold spaces; the fields after it are plain.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/** Samples a process's RSS every `intervalMs` until stopped; reports the peak and the last sample. */
export function sampleRss(pid: number, intervalMs = 250): { stop(): { peakMiB: number; lastMiB: number } } {
  let peak = rssMiB(pid);
  let last = peak;
  const timer = setInterval(() => {
    last = rssMiB(pid);
    peak = Math.max(peak, last);
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      last = rssMiB(pid) || last;
      peak = Math.max(peak, last);
      return { peakMiB: peak, lastMiB: last };
    },
  };
}
