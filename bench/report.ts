/**
 * The benchmark's results: their shape in bench/results.json, which rows are void, the ratio
 * table with the targets of the gRPC-at-HTTP's-cost issue (PASS/FAIL), the other targets, and
 * the printed table.
 *
 * A throughput row is VOID when any of its calls was not a success: a non-2xx answer, a socket
 * error or timeout, a failed or reset stream, a gRPC status other than OK, or gRPC outcomes the
 * server's counters do not vouch for. A void row is shown with its counts and is never used in a
 * ratio; a row measured over several rounds is void if any round was.
 */

export interface ScenarioResult {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** non-2xx responses + socket errors (HTTP), failed streams and non-OK statuses (h2load, gRPC), failed operations (ceilings). */
  readonly errors: number;
  /** Why the row cannot be used beyond its error counts (h2load missing, counters that do not add up). */
  readonly void?: string;
  readonly server?: string;
  readonly note?: string;
  readonly rssPeakMiB?: number;
  readonly [extra: string]: unknown;
}

export interface Results {
  readonly meta: Record<string, unknown> & { loadAverageAtEnd?: number[] };
  readonly scenarios: Record<string, ScenarioResult>;
  readonly startup: Record<string, { ms: number; clients: number; note: string }>;
  readonly rss: Record<string, { peakMiB: number; note: string }>;
  ratios?: Record<string, Ratio>;
  targets?: Target[];
}

export interface Ratio {
  /** null when a row it needs is void. */
  readonly value: number | null;
  /** "≥ 0.9×", "≤ 1.1×"; none for ratios reported without a target. */
  readonly target?: string;
  readonly pass?: boolean;
  /** The void rows that kept it from being computed. */
  readonly void?: string;
}

export interface Target {
  readonly name: string;
  readonly goal: string;
  readonly measured: string;
  readonly met: boolean;
}

export const RSS_LIMIT_MIB = 250;

const fixed = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Why the row's figures must not be used, with its counts; undefined for a clean row. */
export function voidReason(row: ScenarioResult): string | undefined {
  const reasons = [row.errors > 0 ? describeErrors(row) : undefined, row.void].filter((reason) => reason !== undefined);
  if (reasons.length > 0) return reasons.join("; ");
  if (!(row.requestsPerSecond > 0)) return "no call succeeded";
  return undefined;
}

function describeErrors(row: ScenarioResult): string {
  const parts: string[] = [];
  const counted = (counts: unknown, label: (code: string) => string, skip: (code: string) => boolean = () => false) => {
    if (counts === null || typeof counts !== "object") return;
    for (const [code, count] of Object.entries(counts as Record<string, unknown>)) {
      if (typeof count === "number" && count > 0 && !skip(code)) parts.push(`${count} × ${label(code)}`);
    }
  };
  counted(row.statusCodes, (code) => code, (code) => code.startsWith("2"));
  if (typeof row.socketErrors === "number" && row.socketErrors > 0) parts.push(`${row.socketErrors} socket errors or timeouts`);
  const h2load = row.h2load as { errored?: number; timeout?: number } | undefined;
  if (h2load) counted({ "errored stream": h2load.errored, "timed-out call": h2load.timeout }, (what) => what);
  counted(row.errorCodes, (code) => `gRPC ${code}`);
  counted((row.grpcStatus as { notOk?: unknown } | undefined)?.notOk, (code) => `gRPC ${code}`);
  return parts.length > 0 ? parts.join(", ") : `${row.errors} errors`;
}

type Goal = { readonly atLeast: number } | { readonly atMost: number };

export function computeRatios(results: Results): Record<string, Ratio> {
  const ratios: Record<string, Ratio> = {};
  const figures = {
    rps: (row: ScenarioResult) => row.requestsPerSecond,
    cpu: (row: ScenarioResult) => row.serverCpuMsPerRequest as number | undefined,
    main: (row: ScenarioResult) => row.serverMainThreadMsPerRequest as number | undefined,
  };
  const ratio = (name: string, by: keyof typeof figures, numerator: string, denominator: string, goal?: Goal) => {
    const top = results.scenarios[numerator];
    const bottom = results.scenarios[denominator];
    if (!top || !bottom) return;
    const target = goal === undefined ? {} : { target: "atLeast" in goal ? `≥ ${goal.atLeast}×` : `≤ ${goal.atMost}×` };
    const voids = [numerator, denominator].filter((row) => voidReason(results.scenarios[row]!) !== undefined);
    if (voids.length > 0) {
      ratios[name] = { value: null, ...target, void: `${voids.join(" and ")} void` };
      return;
    }
    const a = figures[by](top);
    const b = figures[by](bottom);
    if (a === undefined || !b) return;
    const value = fixed(a / b);
    ratios[name] = { value, ...target, ...(goal === undefined ? {} : { pass: "atLeast" in goal ? value >= goal.atLeast : value <= goal.atMost }) };
  };

  // gRPC at HTTP's cost, one load generator (h2load) for both surfaces.
  ratio("gRPC/HTTP CPU per call: AuthenticateToken / POST /oauth/introspect (h2load)", "cpu", "h2load-grpc-authenticate-token", "h2load-http-introspect", { atMost: 1.1 });
  ratio("gRPC/HTTP CPU per call: IssueToken / POST /oauth/token, RS256 (h2load)", "cpu", "h2load-grpc-issue-token-rs256", "h2load-http-token-rs256", { atMost: 1.1 });
  ratio("gRPC/HTTP throughput: AuthenticateToken / POST /oauth/introspect (h2load)", "rps", "h2load-grpc-authenticate-token", "h2load-http-introspect", { atLeast: 0.9 });
  ratio("gRPC/HTTP throughput: IssueToken / POST /oauth/token, RS256 (h2load)", "rps", "h2load-grpc-issue-token-rs256", "h2load-http-token-rs256", { atLeast: 0.9 });
  ratio("gRPC/HTTP main-thread CPU per call: AuthenticateToken / introspect (h2load)", "main", "h2load-grpc-authenticate-token", "h2load-http-introspect");
  ratio("gRPC/HTTP main-thread CPU per call: IssueToken / token RS256 (h2load)", "main", "h2load-grpc-issue-token-rs256", "h2load-http-token-rs256");
  // What Node's own HTTP/2 stack costs per gRPC-shaped call against HTTP/1.1, with nothing above it.
  ratio("transport floor: CPU per call, h2c gRPC-shaped / HTTP/1.1 (h2load)", "cpu", "floor-transport-grpc", "floor-transport-http1");
  ratio("transport floor: throughput, h2c gRPC-shaped / HTTP/1.1 (h2load)", "rps", "floor-transport-grpc", "floor-transport-http1");
  // The real-client view: grpc-js against autocannon, two generators of different cost.
  ratio("real clients: grpc-js IssueToken / autocannon token-rs256", "rps", "grpc-issue-token", "tessera-token-rs256");
  ratio("real clients: CPU per call, grpc-js AuthenticateToken / autocannon introspect", "cpu", "grpc-authenticate-token", "tessera-introspect");

  // Issuance against the bare floor of the same run.
  ratio("token-rs256: tessera / bare floor", "rps", "tessera-token-rs256", "floor-token-rs256", { atLeast: 0.95 });
  ratio("CPU per token-rs256: tessera / bare floor", "cpu", "tessera-token-rs256", "floor-token-rs256", { atMost: 1.05 });
  ratio("token-es256: tessera / bare floor", "rps", "tessera-token-es256", "floor-token-es256", { atLeast: 0.9 });
  ratio("CPU per token-es256: tessera / bare floor", "cpu", "tessera-token-es256", "floor-token-es256");

  // The newer grants against client credentials, same algorithm.
  ratio("jwt-bearer (federated) / client credentials, RS256", "rps", "tessera-jwt-bearer-rs256", "tessera-token-rs256", { atLeast: 0.8 });
  ratio("token exchange (delegation) / client credentials, RS256", "rps", "tessera-token-exchange-rs256", "tessera-token-rs256", { atLeast: 0.8 });
  ratio("DPoP-bound / client credentials, RS256", "rps", "tessera-token-dpop-rs256", "tessera-token-rs256", { atLeast: 0.8 });
  ratio("DPoP-bound / client credentials, ES256", "rps", "tessera-token-dpop-es256", "tessera-token-es256", { atLeast: 0.8 });

  // What the abuse limiter costs: the same load with limits on (never reached) and off.
  ratio("CPU per token-rs256: limits on / off", "cpu", "tessera-token-rs256-limited", "tessera-token-rs256");
  ratio("CPU per introspection: limits on / off", "cpu", "tessera-introspect-limited", "tessera-introspect");
  ratio("token-rs256 throughput: limits on / off", "rps", "tessera-token-rs256-limited", "tessera-token-rs256");
  ratio("introspection throughput: limits on / off", "rps", "tessera-introspect-limited", "tessera-introspect");

  // oidc-provider, reported without a target: the floor/peer ratio itself moves with the CPU.
  ratio("token-rs256: tessera / oidc-provider", "rps", "tessera-token-rs256", "peer-token-rs256");
  ratio("token-es256: tessera / oidc-provider", "rps", "tessera-token-es256", "peer-token-es256");
  ratio("introspect: tessera / oidc-provider (opaque)", "rps", "tessera-introspect", "peer-introspect");
  ratio("introspect (bearer caller): tessera / oidc-provider (opaque)", "rps", "tessera-introspect-bearer", "peer-introspect");
  ratio("CPU per token-rs256: oidc-provider / tessera", "cpu", "peer-token-rs256", "tessera-token-rs256");
  ratio("CPU per token-es256: oidc-provider / tessera", "cpu", "peer-token-es256", "tessera-token-es256");
  ratio("CPU per introspection: oidc-provider (opaque) / tessera", "cpu", "peer-introspect", "tessera-introspect");

  // The machine's ceilings: the share of a token's CPU that is the signature itself (1.0 = nothing but signing).
  ratio("token-rs256: tessera / crypto.sign RS256 ceiling", "rps", "tessera-token-rs256", "ceiling-sign-rs256");
  ratio("token-es256: tessera / crypto.sign ES256 ceiling", "rps", "tessera-token-es256", "ceiling-sign-es256");
  ratio("token-rs256: oidc-provider / crypto.sign RS256 ceiling", "rps", "peer-token-rs256", "ceiling-sign-rs256");
  ratio("signing share of CPU per token-rs256: tessera", "cpu", "ceiling-sign-rs256", "tessera-token-rs256");
  ratio("signing share of CPU per token-rs256: oidc-provider", "cpu", "ceiling-sign-rs256", "peer-token-rs256");

  ratio("scale token-rs256 / 10-client token-rs256", "rps", "scale-token-rs256", "tessera-token-rs256");
  ratio("CPU per token-rs256: scale / 10-client", "cpu", "scale-token-rs256", "tessera-token-rs256");
  ratio("pglite token-rs256 / postgres token-rs256", "rps", "pglite-token-rs256", "tessera-token-rs256");
  return ratios;
}

export function evaluateTargets(results: Results): Target[] {
  const ratios = results.ratios ?? computeRatios(results);
  const targets: Target[] = [];
  const rows = Object.entries(results.scenarios);
  if (rows.length > 0) {
    const voids = rows.filter(([, row]) => voidReason(row) !== undefined).map(([name]) => name);
    targets.push({ name: "void rows (any non-2xx, failed call or non-OK gRPC status)", goal: "none", measured: voids.length > 0 ? voids.join(", ") : "none", met: voids.length === 0 });
    // The bound is Tessera's on PostgreSQL (issue 21): PGlite runs the database in the process,
    // and the floor and peer servers are not Tessera.
    const onPostgres = (row: ScenarioResult) => typeof row.server === "string" && row.server.startsWith("tessera") && !row.server.includes("PGlite");
    const measuredRss = rows.filter(([, row]) => typeof row.rssPeakMiB === "number" && row.rssPeakMiB > 0 && onPostgres(row));
    if (measuredRss.length > 0) {
      const above = measuredRss.filter(([, row]) => row.rssPeakMiB! >= RSS_LIMIT_MIB).map(([name, row]) => `${name}: ${row.rssPeakMiB} MiB`);
      const peak = Math.max(...measuredRss.map(([, row]) => row.rssPeakMiB!));
      targets.push({ name: "RSS peak of every Tessera row on PostgreSQL", goal: `< ${RSS_LIMIT_MIB} MiB`, measured: above.length > 0 ? above.join(", ") : `highest ${peak} MiB`, met: above.length === 0 });
    }
  }
  const scaleStart = results.startup["postgres-scale-start"];
  if (scaleStart) {
    targets.push({ name: `start-up with ${scaleStart.clients} clients`, goal: "< 10 s (at 100,000)", measured: `${fixed(scaleStart.ms / 1000, 1)} s`, met: scaleStart.ms < 10_000 });
  }
  const scale = ratios["scale token-rs256 / 10-client token-rs256"];
  if (scale && scaleStart) {
    const cpuScale = ratios["CPU per token-rs256: scale / 10-client"]?.value;
    targets.push({
      name: `issuance with ${scaleStart.clients} clients vs 10`,
      goal: "≥ 90% (at 100,000)",
      measured:
        scale.value === null
          ? `not computed (${scale.void ?? "void"})`
          : `${Math.round(scale.value * 100)}%${typeof cpuScale === "number" ? ` (CPU per token ${Math.round(cpuScale * 100)}% of the 10-client run's)` : ""}`,
      met: scale.value !== null && scale.value >= 0.9,
    });
  }
  return targets;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)));
  const line = (cells: readonly string[]) => `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(" | ")} |`;
  return [line(header), `|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

const thousands = (value: number) => value.toLocaleString("en-US");

export function renderReport(results: Results): string {
  const meta = results.meta;
  const parts: string[] = [
    `Tessera benchmark — ${String(meta.date)}, commit ${String(meta.commit)}, Node ${String(meta.node)}, ${String(meta.cpus)} × ${String(meta.cpuModel)}`,
    `${String(meta.connections)} connections / in flight, ${String(meta.durationSeconds)} s measured after ${String(meta.warmupSeconds)} s warm-up${meta.smoke ? " (SMOKE: not a measurement)" : ""}`,
    ...(Number(meta.rounds) > 1
      ? [`comparison rows: the round with the median req/s of ${String(meta.rounds)} interleaved rounds ("rounds" column: each round's req/s); void if any round was, RSS the peak over all rounds`]
      : []),
    `load average at start ${JSON.stringify(meta.loadAverageAtStart)}, at end ${JSON.stringify(meta.loadAverageAtEnd)} ("load" column: 1-minute load average when the row ended; on ${String(meta.cpus)} cores anything above ~2 means other work competed)`,
    `check: "ok", or VOID with the counts of what was not a success (non-2xx, socket errors, timeouts, failed streams, non-OK gRPC statuses); a void row's req/s is in parentheses and no ratio uses it. RSS at or above ${RSS_LIMIT_MIB} MiB is marked`,
    "CPU ms/req: the server process's CPU time (all threads, user + system) per successful request during the measured run, in parentheses its main (event-loop) thread alone; for ceilings, CPU per operation",
    "",
    table(
      ["scenario", "server", "req/s", "rounds", "p50 ms", "p99 ms", "check", "CPU ms/req (main thread)", "RSS MiB", "load", "note"],
      Object.entries(results.scenarios).map(([name, row]) => [
        name,
        row.server ?? "",
        voidReason(row) === undefined ? thousands(row.requestsPerSecond) : `(${thousands(row.requestsPerSecond)})`,
        Array.isArray(row.roundsRequestsPerSecond) ? (row.roundsRequestsPerSecond as number[]).map(thousands).join(" / ") : "",
        String(row.p50Ms),
        String(row.p99Ms),
        voidReason(row) === undefined ? "ok" : `VOID: ${voidReason(row)!}`,
        typeof row.serverCpuMsPerRequest === "number"
          ? `${String(row.serverCpuMsPerRequest)}${typeof row.serverMainThreadMsPerRequest === "number" ? ` (${String(row.serverMainThreadMsPerRequest)})` : ""}`
          : "",
        row.rssPeakMiB ? `${row.rssPeakMiB}${row.rssPeakMiB >= RSS_LIMIT_MIB ? ` (≥ ${RSS_LIMIT_MIB}!)` : ""}` : "",
        typeof row.loadAverage === "number" ? String(row.loadAverage) : "",
        row.note ?? "",
      ]),
    ),
  ];
  const ratios = Object.entries(results.ratios ?? {});
  if (ratios.length > 0) {
    parts.push(
      "",
      table(
        ["ratio", "value", "target", "mark"],
        ratios.map(([name, ratio]) => [
          name,
          ratio.value === null ? "—" : `${ratio.value}×`,
          ratio.target ?? "",
          ratio.value === null ? `VOID (${ratio.void ?? "row void"})` : ratio.pass === undefined ? "" : ratio.pass ? "PASS" : "FAIL",
        ]),
      ),
    );
  }
  const startup = Object.entries(results.startup);
  if (startup.length > 0) parts.push("", table(["start-up to ready", "ms", "clients", "note"], startup.map(([name, row]) => [name, thousands(row.ms), thousands(row.clients), row.note])));
  const rss = Object.entries(results.rss);
  if (rss.length > 0) parts.push("", table(["Tessera RSS", "MiB", "note"], rss.map(([name, row]) => [name, String(row.peakMiB), row.note])));
  const targets = results.targets ?? [];
  if (targets.length > 0) parts.push("", table(["target", "goal", "measured", "met"], targets.map((target) => [target.name, target.goal, target.measured, target.met ? "PASS" : "FAIL"])));
  return parts.join("\n");
}

export function printReport(results: Results): void {
  results.ratios = computeRatios(results);
  results.targets = evaluateTargets(results);
  process.stdout.write(`${renderReport(results)}\n`);
}
