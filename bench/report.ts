/**
 * The benchmark's results: their shape in bench/results.json, the Tessera/peer and
 * Tessera/ceiling ratios, the targets of the "Scale and speed" issue, and the printed table.
 */

export interface ScenarioResult {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** non-2xx responses + socket errors (HTTP), failed calls (gRPC), failed operations (ceilings). */
  readonly errors: number;
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
  ratios?: Record<string, number>;
  targets?: Target[];
}

export interface Target {
  readonly name: string;
  readonly goal: string;
  readonly measured: string;
  readonly met: boolean;
}

const fixed = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

export function computeRatios(results: Results): Record<string, number> {
  const rps = (name: string) => results.scenarios[name]?.requestsPerSecond;
  const ratios: Record<string, number> = {};
  const ratio = (name: string, numerator: string, denominator: string) => {
    const top = rps(numerator);
    const bottom = rps(denominator);
    if (top !== undefined && bottom) ratios[name] = fixed(top / bottom);
  };
  ratio("token-rs256: tessera / oidc-provider", "tessera-token-rs256", "peer-token-rs256");
  ratio("token-es256: tessera / oidc-provider", "tessera-token-es256", "peer-token-es256");
  ratio("introspect: tessera / oidc-provider (opaque)", "tessera-introspect", "peer-introspect");
  ratio("introspect (bearer caller): tessera / oidc-provider (opaque)", "tessera-introspect-bearer", "peer-introspect");
  ratio("DPoP-bound / plain issuance, token-rs256 (target ≥ 0.8)", "tessera-token-dpop-rs256", "tessera-token-rs256");
  ratio("DPoP-bound / plain issuance, token-es256 (target ≥ 0.8)", "tessera-token-dpop-es256", "tessera-token-es256");
  ratio("token-rs256: tessera / crypto.sign RS256 ceiling", "tessera-token-rs256", "ceiling-sign-rs256");
  ratio("token-es256: tessera / crypto.sign ES256 ceiling", "tessera-token-es256", "ceiling-sign-es256");
  ratio("token-rs256: oidc-provider / crypto.sign RS256 ceiling", "peer-token-rs256", "ceiling-sign-rs256");
  ratio("jwt-bearer (federated) / client credentials, RS256", "tessera-jwt-bearer-rs256", "tessera-token-rs256");
  ratio("token exchange (delegation) / client credentials, RS256", "tessera-token-exchange-rs256", "tessera-token-rs256");
  ratio("grpc IssueToken / HTTP token-rs256", "grpc-issue-token", "tessera-token-rs256");
  ratio("scale token-rs256 / 10-client token-rs256", "scale-token-rs256", "tessera-token-rs256");
  ratio("pglite token-rs256 / postgres token-rs256", "pglite-token-rs256", "tessera-token-rs256");
  // The same comparisons by server CPU per request, which other work on the machine skews far
  // less than throughput: how many times more CPU the peer (or the bigger run) spends per request.
  const cpu = (name: string) => results.scenarios[name]?.serverCpuMsPerRequest as number | undefined;
  const cpuRatio = (name: string, more: string, less: string) => {
    const top = cpu(more);
    const bottom = cpu(less);
    if (top !== undefined && bottom) ratios[name] = fixed(top / bottom);
  };
  cpuRatio("CPU per token-rs256: oidc-provider / tessera", "peer-token-rs256", "tessera-token-rs256");
  cpuRatio("CPU per token-es256: oidc-provider / tessera", "peer-token-es256", "tessera-token-es256");
  cpuRatio("CPU per introspection: oidc-provider (opaque) / tessera", "peer-introspect", "tessera-introspect");
  cpuRatio("CPU per token-rs256: scale / 10-client", "scale-token-rs256", "tessera-token-rs256");
  // The share of a token's CPU that is the signature itself (1.0 = nothing but signing).
  cpuRatio("signing share of CPU per token-rs256: tessera", "ceiling-sign-rs256", "tessera-token-rs256");
  cpuRatio("signing share of CPU per token-rs256: oidc-provider", "ceiling-sign-rs256", "peer-token-rs256");
  cpuRatio("CPU per token-rs256: tessera / bare floor", "tessera-token-rs256", "floor-token-rs256");
  cpuRatio("CPU per token-es256: tessera / bare floor", "tessera-token-es256", "floor-token-es256");
  ratio("token-es256: tessera / bare floor", "tessera-token-es256", "floor-token-es256");
  ratio("token-rs256: tessera / bare floor", "tessera-token-rs256", "floor-token-rs256");
  return ratios;
}

export function evaluateTargets(results: Results): Target[] {
  const ratios = results.ratios ?? computeRatios(results);
  const targets: Target[] = [];
  const atLeast = (name: string, key: string, goal: number) => {
    const value = ratios[key];
    if (value !== undefined) targets.push({ name, goal: `≥ ${goal}×`, measured: `${value}×`, met: value >= goal });
  };
  atLeast("/oauth/token RS256 vs oidc-provider", "token-rs256: tessera / oidc-provider", 2);
  atLeast("/oauth/token ES256 vs oidc-provider", "token-es256: tessera / oidc-provider", 3);
  atLeast("RS256 issuance vs async crypto.sign ceiling", "token-rs256: tessera / crypto.sign RS256 ceiling", 0.75);
  atLeast("… by CPU: signing share of Tessera's CPU per RS256 token", "signing share of CPU per token-rs256: tessera", 0.75);
  atLeast("/oauth/introspect vs oidc-provider", "introspect: tessera / oidc-provider (opaque)", 2);
  const loadRows = Object.entries(results.scenarios).filter(([name]) => !name.startsWith("ceiling-"));
  if (loadRows.length > 0) {
    const errors = loadRows.reduce((sum, [, row]) => sum + row.errors, 0);
    const failing = loadRows.filter(([, row]) => row.errors > 0).map(([name, row]) => `${name}: ${row.errors}`);
    targets.push({ name: "zero errors", goal: "0", measured: failing.length > 0 ? failing.join(", ") : String(errors), met: errors === 0 });
  }
  const postgresRss = results.rss["postgres-under-load"];
  if (postgresRss) targets.push({ name: "RSS on PostgreSQL under load", goal: "< 250 MiB", measured: `${postgresRss.peakMiB} MiB`, met: postgresRss.peakMiB < 250 });
  const scaleStart = results.startup["postgres-scale-start"];
  if (scaleStart) {
    targets.push({ name: `start-up with ${scaleStart.clients} clients`, goal: "< 10 s (at 100,000)", measured: `${fixed(scaleStart.ms / 1000, 1)} s`, met: scaleStart.ms < 10_000 });
  }
  const scale = ratios["scale token-rs256 / 10-client token-rs256"];
  if (scale !== undefined && scaleStart) {
    const cpuScale = ratios["CPU per token-rs256: scale / 10-client"];
    targets.push({
      name: `issuance with ${scaleStart.clients} clients vs 10`,
      goal: "≥ 90% (at 100,000)",
      measured: `${Math.round(scale * 100)}%${cpuScale !== undefined ? ` (CPU per token ${Math.round(cpuScale * 100)}% of the 10-client run's)` : ""}`,
      met: scale >= 0.9,
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
      ? [`comparison rows: the round with the median req/s of ${String(meta.rounds)} interleaved rounds ("rounds" column: each round's req/s); errors summed and RSS the peak over all rounds`]
      : []),
    `load average at start ${JSON.stringify(meta.loadAverageAtStart)}, at end ${JSON.stringify(meta.loadAverageAtEnd)} ("load" column: 1-minute load average when the row ended; on ${String(meta.cpus)} cores anything above ~2 means other work competed)`,
    "CPU ms/req: the server process's CPU time (all threads, user + system) per successful request during the measured run, in parentheses its main (event-loop) thread alone; for ceilings, CPU per operation",
    "",
    table(
      ["scenario", "server", "req/s", "rounds", "p50 ms", "p99 ms", "errors", "CPU ms/req (main thread)", "RSS MiB", "load", "note"],
      Object.entries(results.scenarios).map(([name, row]) => [
        name,
        row.server ?? "",
        thousands(row.requestsPerSecond),
        Array.isArray(row.roundsRequestsPerSecond) ? (row.roundsRequestsPerSecond as number[]).map(thousands).join(" / ") : "",
        String(row.p50Ms),
        String(row.p99Ms),
        String(row.errors),
        typeof row.serverCpuMsPerRequest === "number"
          ? `${String(row.serverCpuMsPerRequest)}${typeof row.serverMainThreadMsPerRequest === "number" ? ` (${String(row.serverMainThreadMsPerRequest)})` : ""}`
          : "",
        row.rssPeakMiB ? String(row.rssPeakMiB) : "",
        typeof row.loadAverage === "number" ? String(row.loadAverage) : "",
        row.note ?? "",
      ]),
    ),
  ];
  const ratios = Object.entries(results.ratios ?? {});
  if (ratios.length > 0) parts.push("", table(["ratio", "value"], ratios.map(([name, value]) => [name, `${value}×`])));
  const startup = Object.entries(results.startup);
  if (startup.length > 0) parts.push("", table(["start-up to ready", "ms", "clients", "note"], startup.map(([name, row]) => [name, thousands(row.ms), thousands(row.clients), row.note])));
  const rss = Object.entries(results.rss);
  if (rss.length > 0) parts.push("", table(["Tessera RSS", "MiB", "note"], rss.map(([name, row]) => [name, String(row.peakMiB), row.note])));
  const targets = results.targets ?? [];
  if (targets.length > 0) parts.push("", table(["target", "goal", "measured", "met"], targets.map((target) => [target.name, target.goal, target.measured, target.met ? "yes" : "NO"])));
  return parts.join("\n");
}

export function printReport(results: Results): void {
  results.ratios = computeRatios(results);
  results.targets = evaluateTargets(results);
  process.stdout.write(`${renderReport(results)}\n`);
}
