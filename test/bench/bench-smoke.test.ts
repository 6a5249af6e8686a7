/**
 * `npm run bench -- --smoke` keeps working: it starts Tessera, oidc-provider and the load
 * generators for one-second runs, exits 0, and writes an entry with numeric figures for every
 * scenario. Timings are never asserted — this machine's figures are not a test.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

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
  "peer-token-rs256",
  "tessera-token-es256",
  "peer-token-es256",
  "tessera-jwt-bearer-rs256",
  "tessera-token-exchange-rs256",
  "tessera-token-dpop-rs256",
  "tessera-token-dpop-es256",
  "floor-token-rs256",
  "floor-token-es256",
  "tessera-introspect",
  "tessera-introspect-bearer",
  "peer-introspect",
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
      scenarios: Record<string, Record<string, unknown>>;
      ratios: Record<string, unknown>;
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
    for (const row of Object.values(results.ratios)) expect(typeof row).toBe("number");
    for (const name of ["postgres-first-start", "pglite-first-start", "postgres-scale-start"]) {
      expect(typeof results.startup[name]?.ms, name).toBe("number");
    }
    for (const name of ["postgres-under-load", "pglite-under-load"]) {
      expect(typeof results.rss[name]?.peakMiB, name).toBe("number");
    }
  });
});
