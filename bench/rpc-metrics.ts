/**
 * gRPC outcomes as Tessera counts them: `tessera_rpc_requests_total{rpc,code}` from GET /metrics
 * (unauthenticated; deployments keep it off the public network). h2load sees only HTTP statuses,
 * and a gRPC failure is an HTTP 200 whose trailers say otherwise, so the h2load gRPC rows read
 * these counters before and after the measured run and require every counted call to be OK.
 */

/** Calls counted so far for `rpc` ("tessera.v1.TokenService/IssueToken"), by code ("ok", "Unauthenticated", …). */
export async function rpcCounts(baseUrl: string, rpc: string): Promise<Record<string, number>> {
  const response = await fetch(`${baseUrl}/metrics`);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}`);
  return parseRpcCounts(text, rpc);
}

export function parseRpcCounts(exposition: string, rpc: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of exposition.split("\n")) {
    if (!line.startsWith("tessera_rpc_requests_total{")) continue;
    const close = line.lastIndexOf("}");
    const labels = Object.fromEntries([...line.slice(line.indexOf("{") + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((match) => [match[1], match[2]]));
    if (labels.rpc !== rpc || labels.code === undefined) continue;
    counts[labels.code] = (counts[labels.code] ?? 0) + Number(line.slice(close + 1).trim());
  }
  return counts;
}

export interface RpcOutcomes {
  /** Calls the server answered OK during the measured run. */
  readonly ok: number;
  /** Every other code, with its count. */
  readonly notOk: Record<string, number>;
  /** Why the counts do not vouch for the row (calls counted outside what h2load saw), if they do not. */
  readonly mismatch?: string;
}

/**
 * The difference between two readings. The server also finishes the calls h2load had started
 * when its time ran out, so the calls it counted lie between h2load's succeeded and started
 * counts; fewer means calls it never counted, which nothing here could vouch for.
 */
export function rpcOutcomes(before: Record<string, number>, after: Record<string, number>, client: { succeeded: number; started: number }): RpcOutcomes {
  const delta = (code: string) => (after[code] ?? 0) - (before[code] ?? 0);
  const notOk: Record<string, number> = {};
  for (const code of Object.keys(after)) if (code !== "ok" && delta(code) > 0) notOk[code] = delta(code);
  const ok = delta("ok");
  const counted = ok + Object.values(notOk).reduce((sum, count) => sum + count, 0);
  const mismatch =
    counted < client.succeeded || counted > client.started
      ? `server counted ${counted} calls, h2load ${client.succeeded} completed of ${client.started} started`
      : undefined;
  return { ok, notOk, ...(mismatch ? { mismatch } : {}) };
}

/**
 * rpcCounts once the server has finished what it was given: h2load stops with calls in flight,
 * which the server still answers (and counts) after h2load has gone.
 */
export async function settledRpcCounts(baseUrl: string, rpc: string): Promise<Record<string, number>> {
  let last = await rpcCounts(baseUrl, rpc);
  for (let attempt = 0; attempt < 40; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const next = await rpcCounts(baseUrl, rpc);
    if (JSON.stringify(next) === JSON.stringify(last)) return next;
    last = next;
  }
  return last;
}
