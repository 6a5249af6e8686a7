/**
 * `npm run bench -- --smoke` keeps working: it starts Tessera, oidc-provider and the load
 * generators (autocannon, grpc-js, h2load) for one-second runs, exits 0, and writes an entry
 * with numeric figures for every scenario. With the abuse limits off no row may be void: every
 * call of every row succeeded, and the h2load gRPC rows' calls were all counted OK by the server.
 * Timings are never asserted — this machine's figures are not a test.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { voidReason, type Ratio, type ScenarioResult } from "../../bench/report.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** Not bench/results.json: that file records the last full run and a smoke run must not replace it. */
const RESULTS = path.join(mkdtempSync(path.join(tmpdir(), "tessera-bench-smoke-")), "results.json");

const SCENARIOS = [
  "ceiling-sign-rs256",
  "ceiling-sign-es256",
  "ceiling-sign-rs256-sync",
  "ceiling-verify-rs256",
  "ceiling-verify-es256",
  "ceiling-jose-verify-rs256",
  "ceiling-jose-verify-es256",
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
  "pglite-token-rs256",
  "scale-token-rs256",
];

function runSmoke(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "bench/run.ts", "--smoke", "--out", RESULTS], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.once("exit", (code) => resolve({ code, output }));
  });
}

describe("npm run bench -- --smoke", () => {
  it("exits 0 and writes numeric results for every scenario", { timeout: 300_000 }, async () => {
    rmSync(RESULTS, { force: true });
    const { code, output } = await runSmoke();
    expect(code, output.slice(-4000)).toBe(0);

    const results = JSON.parse(readFileSync(RESULTS, "utf8")) as {
      scenarios: Record<string, ScenarioResult>;
      ratios: Record<string, Ratio>;
      startup: Record<string, { ms: unknown }>;
      rss: Record<string, { peakMiB: unknown }>;
    };
    expect(Object.keys(results.scenarios).sort()).toEqual([...SCENARIOS].sort());
    for (const name of SCENARIOS) {
      const row = results.scenarios[name]!;
      for (const field of ["requestsPerSecond", "p50Ms", "p99Ms", "errors"]) {
        expect(typeof row[field], `${name}.${field}`).toBe("number");
        expect(Number.isFinite(row[field]), `${name}.${field}`).toBe(true);
      }
    }
    for (const name of SCENARIOS) expect(voidReason(results.scenarios[name]!), name).toBeUndefined();
    for (const name of ["h2load-grpc-authenticate-token", "h2load-grpc-issue-token-rs256"]) {
      const grpcStatus = results.scenarios[name]!.grpcStatus as { ok: number; notOk: Record<string, number> };
      expect(grpcStatus.ok, name).toBeGreaterThanOrEqual(results.scenarios[name]!.requests as number);
      expect(grpcStatus.notOk, name).toEqual({});
    }
    for (const [name, ratio] of Object.entries(results.ratios)) {
      expect(typeof ratio.value, name).toBe("number");
      if (ratio.target !== undefined) expect(typeof ratio.pass, name).toBe("boolean");
    }
    for (const name of [
      "gRPC/HTTP CPU per call: AuthenticateToken / POST /oauth/introspect (h2load)",
      "gRPC/HTTP CPU per call: IssueToken / POST /oauth/token, RS256 (h2load)",
      "CPU per token-rs256: limits on / off",
      "CPU per introspection: limits on / off",
    ]) {
      expect(results.ratios[name], name).toBeDefined();
    }
    for (const name of ["postgres-first-start", "pglite-first-start", "postgres-scale-start"]) {
      expect(typeof results.startup[name]?.ms, name).toBe("number");
    }
    for (const name of ["postgres-under-load", "pglite-under-load"]) {
      expect(typeof results.rss[name]?.peakMiB, name).toBe("number");
    }
  });
});
