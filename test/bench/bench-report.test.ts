/**
 * The bench's verdicts, on rows made by hand: a row with any call that was not a success is
 * void, shown with its counts, and no ratio is computed from it; the ratio table marks each
 * target PASS or FAIL; every row's RSS is held to the limit.
 */
import { describe, expect, it } from "vitest";
import { computeRatios, evaluateTargets, renderReport, voidReason, type Results, type ScenarioResult } from "../../bench/report.js";

function row(requestsPerSecond: number, cpuMs: number, extra: Partial<ScenarioResult> = {}): ScenarioResult {
  return { requestsPerSecond, p50Ms: 1, p99Ms: 2, errors: 0, serverCpuMsPerRequest: cpuMs, serverMainThreadMsPerRequest: cpuMs / 2, rssPeakMiB: 180, ...extra };
}

function results(scenarios: Record<string, ScenarioResult>): Results {
  const built: Results = { meta: { date: "2026-12-03", commit: "test", rounds: 1 }, scenarios, startup: {}, rss: {} };
  built.ratios = computeRatios(built);
  built.targets = evaluateTargets(built);
  return built;
}

describe("bench report: void rows", () => {
  it("voids an autocannon row with a single non-2xx answer, naming the status, and computes no ratio from it", () => {
    const limitedOnce = row(9_000, 0.1, { errors: 1, non2xx: 1, socketErrors: 0, statusCodes: { "200": 35_999, "429": 1 } });
    const built = results({ "tessera-token-rs256": limitedOnce, "floor-token-rs256": row(9_500, 0.09) });
    expect(voidReason(limitedOnce)).toBe("1 × 429");
    expect(built.ratios!["token-rs256: tessera / bare floor"]).toEqual({ value: null, target: "≥ 0.95×", void: "tessera-token-rs256 void" });
    expect(built.ratios!["CPU per token-rs256: tessera / bare floor"]?.value).toBeNull();
    expect(built.targets!.find((target) => target.name.startsWith("void rows"))).toMatchObject({ met: false, measured: "tessera-token-rs256" });
    const printed = renderReport(built);
    expect(printed).toContain("VOID: 1 × 429");
    expect(printed).toContain("(9,000)");
    expect(printed).not.toMatch(/token-rs256: tessera \/ bare floor\s*\|\s*0\.95×/);
  });

  it("voids a row with socket errors, a grpc-js row with failed calls, and an h2load row with failed streams", () => {
    expect(voidReason(row(1, 1, { errors: 3, socketErrors: 3, statusCodes: { "200": 10 } }))).toBe("3 socket errors or timeouts");
    expect(voidReason(row(1, 1, { errors: 2, errorCodes: { RESOURCE_EXHAUSTED: 2 } }))).toBe("2 × gRPC RESOURCE_EXHAUSTED");
    expect(voidReason(row(1, 1, { errors: 2, h2load: { failed: 1, errored: 1, timeout: 1 }, statusCodes: { "2xx": 5, "4xx": 0 } }))).toBe("1 × errored stream, 1 × timed-out call");
  });

  it("voids an h2load gRPC row whose server counted a non-OK status, or whose counts do not add up", () => {
    const notOk = row(4_000, 0.12, { errors: 5, grpcStatus: { ok: 39_995, notOk: { Unauthenticated: 5 } }, statusCodes: { "2xx": 40_000 } });
    expect(voidReason(notOk)).toBe("5 × gRPC Unauthenticated");
    const uncounted = row(4_000, 0.12, { void: "server counted 0 calls, h2load 40000 completed of 40128 started" });
    expect(voidReason(uncounted)).toBe("server counted 0 calls, h2load 40000 completed of 40128 started");
    const built = results({ "h2load-grpc-authenticate-token": uncounted, "h2load-http-introspect": row(10_000, 0.05) });
    for (const name of ["gRPC/HTTP CPU per call: AuthenticateToken / POST /oauth/introspect (h2load)", "gRPC/HTTP throughput: AuthenticateToken / POST /oauth/introspect (h2load)"]) {
      expect(built.ratios![name], name).toMatchObject({ value: null, void: "h2load-grpc-authenticate-token void" });
    }
  });

  it("names both the refused calls and the counts that do not add up when a row has both", () => {
    expect(voidReason(row(1, 1, { errors: 7, grpcStatus: { ok: 1, notOk: { ResourceExhausted: 7 } }, void: "server counted 8 calls, h2load 9 completed of 9 started" }))).toBe(
      "7 × gRPC ResourceExhausted; server counted 8 calls, h2load 9 completed of 9 started",
    );
  });

  it("voids a row in which no call succeeded (h2load that could not connect, or was not installed)", () => {
    expect(voidReason(row(0, 0))).toBe("no call succeeded");
    expect(voidReason(row(0, 0, { void: "h2load is not installed" }))).toBe("h2load is not installed");
  });
});

describe("bench report: ratio table", () => {
  it("computes the gRPC/HTTP ratios by CPU per call and throughput, and marks each against its target", () => {
    const built = results({
      "h2load-http-introspect": row(10_000, 0.05),
      "h2load-grpc-authenticate-token": row(9_500, 0.054),
      "h2load-http-token-rs256": row(3_000, 0.4),
      "h2load-grpc-issue-token-rs256": row(2_500, 0.48),
    });
    expect(built.ratios!["gRPC/HTTP CPU per call: AuthenticateToken / POST /oauth/introspect (h2load)"]).toEqual({ value: 1.08, target: "≤ 1.1×", pass: true });
    expect(built.ratios!["gRPC/HTTP throughput: AuthenticateToken / POST /oauth/introspect (h2load)"]).toEqual({ value: 0.95, target: "≥ 0.9×", pass: true });
    expect(built.ratios!["gRPC/HTTP CPU per call: IssueToken / POST /oauth/token, RS256 (h2load)"]).toEqual({ value: 1.2, target: "≤ 1.1×", pass: false });
    expect(built.ratios!["gRPC/HTTP throughput: IssueToken / POST /oauth/token, RS256 (h2load)"]).toEqual({ value: 0.83, target: "≥ 0.9×", pass: false });
    const printed = renderReport(built);
    expect(printed).toMatch(/AuthenticateToken \/ POST \/oauth\/introspect \(h2load\)\s*\| 1\.08×\s*\| ≤ 1\.1×\s*\| PASS/);
    expect(printed).toMatch(/IssueToken \/ POST \/oauth\/token, RS256 \(h2load\)\s*\| 1\.2×\s*\| ≤ 1\.1×\s*\| FAIL/);
  });

  it("holds issuance to the floor and the newer grants to client credentials; peers are reported without a target", () => {
    const built = results({
      "tessera-token-rs256": row(6_000, 0.3),
      "floor-token-rs256": row(6_200, 0.29),
      "peer-token-rs256": row(3_500, 0.55),
      "tessera-token-dpop-rs256": row(4_700, 0.38),
      "tessera-token-rs256-limited": row(5_900, 0.31),
    });
    expect(built.ratios!["token-rs256: tessera / bare floor"]).toEqual({ value: 0.97, target: "≥ 0.95×", pass: true });
    expect(built.ratios!["CPU per token-rs256: tessera / bare floor"]).toEqual({ value: 1.03, target: "≤ 1.05×", pass: true });
    expect(built.ratios!["DPoP-bound / client credentials, RS256"]).toEqual({ value: 0.78, target: "≥ 0.8×", pass: false });
    expect(built.ratios!["token-rs256: tessera / oidc-provider"]).toEqual({ value: 1.71 });
    expect(built.ratios!["CPU per token-rs256: limits on / off"]).toEqual({ value: 1.03 });
  });

  it("marks every row whose RSS peak reaches the limit, and holds Tessera on PostgreSQL to it, gRPC rows included", () => {
    const built = results({
      "tessera-token-rs256": row(6_000, 0.3, { server: "tessera", rssPeakMiB: 180 }),
      "h2load-grpc-issue-token-rs256": row(2_500, 0.4, { server: "tessera", rssPeakMiB: 262.5 }),
      "pglite-token-rs256": row(5_000, 0.4, { server: "tessera (PGlite)", rssPeakMiB: 390 }),
      "peer-token-rs256": row(3_000, 0.6, { server: "oidc-provider", rssPeakMiB: 300 }),
    });
    expect(built.targets!.find((target) => target.name === "RSS peak of every Tessera row on PostgreSQL")).toEqual({
      name: "RSS peak of every Tessera row on PostgreSQL",
      goal: "< 250 MiB",
      measured: "h2load-grpc-issue-token-rs256: 262.5 MiB",
      met: false,
    });
    expect(renderReport(built)).toContain("262.5 (≥ 250!)");
    expect(renderReport(built)).toContain("390 (≥ 250!)");
  });
});
