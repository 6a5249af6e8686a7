/**
 * HTTP load with autocannon as a library: a fixed number of keep-alive connections for a fixed
 * time, after a warm-up run whose results are thrown away. The requests rotate over a prepared
 * list (one per client), built once, so the load generator spends nothing per request.
 */
import autocannon, { type AutocannonRequest } from "autocannon";
import { round } from "./stats.js";

export interface LoadResult {
  /** Successful (2xx) responses per second over the measured run. */
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** non2xx + socket errors (including timeouts). */
  readonly errors: number;
  readonly non2xx: number;
  readonly socketErrors: number;
  readonly statusCodes: Record<string, number>;
  readonly seconds: number;
  /** Successful responses in the measured run. */
  readonly requests: number;
  /** CPU the load generator (this process) spent per response: it shares the machine's cores. */
  readonly loadGeneratorCpuMsPerRequest: number;
}

export async function httpLoad(options: {
  url: string;
  requests: AutocannonRequest[];
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  /** Called between the warm-up and the measured run. */
  onMeasureStart?: () => void;
}): Promise<LoadResult> {
  const run = (duration: number) =>
    autocannon({ url: options.url, connections: options.connections, duration, pipelining: 1, timeout: 10, requests: options.requests });
  if (options.warmupSeconds > 0) await run(options.warmupSeconds);
  options.onMeasureStart?.();
  const cpuAtStart = process.cpuUsage();
  const result = await run(options.durationSeconds);
  const cpu = process.cpuUsage(cpuAtStart);
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, stats]) => [code, stats.count]));
  return {
    requestsPerSecond: Math.round(result["2xx"] / result.duration),
    p50Ms: round(result.latency.p50, 2),
    p99Ms: round(result.latency.p99, 2),
    errors: result.non2xx + result.errors,
    non2xx: result.non2xx,
    socketErrors: result.errors,
    statusCodes,
    seconds: result.duration,
    requests: result["2xx"],
    loadGeneratorCpuMsPerRequest: result["2xx"] > 0 ? round((cpu.user + cpu.system) / 1000 / result["2xx"], 3) : 0,
  };
}

/** One POST per entry of `items`, in order; autocannon's connections each cycle through them. */
export function postRequests<T>(path: string, items: readonly T[], build: (item: T) => { authorization: string; body: string }): AutocannonRequest[] {
  return items.map((item) => {
    const { authorization, body } = build(item);
    return {
      method: "POST",
      path,
      headers: { "content-type": "application/x-www-form-urlencoded", authorization },
      body,
    };
  });
}
