/**
 * Prometheus metrics (GET /metrics). Transports record requests and outcomes; gauges read the
 * in-memory state at scrape time. Label values are bounded, whatever a caller sends: routes
 * and RPCs are fixed sets, an HTTP method outside the registered ones is "other", client ids
 * beyond MAX_CLIENT_LABELS fold into "other" so 100,000 clients cannot blow up a time-series
 * database, and every other label is a code of ours.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { CounterTally, HistogramTally } from "./tallies.js";

const MAX_CLIENT_LABELS = 500;
/**
 * HTTP methods that get their own label (RFC 9110 §9 and PATCH, RFC 5789). HTTP/2 carries any
 * token as `:method`; each invented one was a new series, kept forever.
 */
const HTTP_METHOD_LABELS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]);
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export interface StateGauges {
  clients(): number;
  revocations(): number;
  signingKeys(): number;
  /** Seconds since the last completed resync with the database, or -1 before the first. */
  syncLagSeconds(): number;
  databaseUp(): boolean;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly httpRequests: CounterTally;
  private readonly httpDuration: HistogramTally;
  private readonly rpcRequests: CounterTally;
  private readonly rpcDuration: HistogramTally;
  private readonly tokensIssued: CounterTally;
  private readonly authFailures: Counter<"reason">;
  private readonly rateLimited: Counter<"limit">;
  private readonly keyFetches: Counter<"source" | "outcome">;
  private readonly clientLabels = new Set<string>();
  private readonly federatedIssued: Counter<"issuer" | "way">;
  private readonly federatedRefused: Counter<"issuer" | "way" | "reason">;
  private readonly issuerLabels = new Set<string>();

  constructor(state: StateGauges) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "tessera_process_" });
    // Recorded on every request, so kept out of prom-client's per-call path (tallies.ts).
    this.httpRequests = new CounterTally(this.registry, { name: "tessera_http_requests_total", help: "HTTP gateway requests by route, method and status.", labels: { first: "route", second: "method", third: "status" } });
    this.httpDuration = new HistogramTally(this.registry, { name: "tessera_http_request_duration_seconds", help: "HTTP gateway latency.", label: "route", buckets: LATENCY_BUCKETS });
    this.rpcRequests = new CounterTally(this.registry, { name: "tessera_rpc_requests_total", help: "RPCs by method and outcome code.", labels: { first: "rpc", third: "code" } });
    this.rpcDuration = new HistogramTally(this.registry, { name: "tessera_rpc_duration_seconds", help: "RPC latency.", label: "rpc", buckets: LATENCY_BUCKETS });
    this.tokensIssued = new CounterTally(this.registry, { name: "tessera_tokens_issued_total", help: "Access tokens issued by client, algorithm and grant.", labels: { first: "client_id", second: "alg", third: "grant_type" } });
    this.authFailures = new Counter({ name: "tessera_auth_failures_total", help: "Refused authentications by reason (OAuth error code or lockout).", labelNames: ["reason"], registers });
    this.federatedIssued = new Counter({ name: "tessera_federated_issued_total", help: "Tokens issued, and clients authenticated, on a trusted issuer's assertion, by issuer and way in.", labelNames: ["issuer", "way"], registers });
    this.federatedRefused = new Counter({ name: "tessera_federated_refused_total", help: "Federated assertions refused, by issuer (\"unknown\" when not trusted), way in and reason.", labelNames: ["issuer", "way", "reason"], registers });
    this.rateLimited = new Counter({ name: "tessera_rate_limited_total", help: "Requests refused by a rate limit, by limit.", labelNames: ["limit"], registers });
    this.keyFetches = new Counter({
      name: "tessera_federation_key_fetches_total",
      help: "Fetches of trusted issuers' and clients' published keys, by where the keys come from and how the fetch ended.",
      labelNames: ["source", "outcome"],
      registers,
    });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({ name, help, registers, collect() { this.set(read()); } });
    gauge("tessera_clients_cached", "Clients held in memory.", state.clients);
    gauge("tessera_revocations_cached", "Revoked, unexpired tokens held in memory.", state.revocations);
    gauge("tessera_signing_keys_published", "Signing keys in /keys.", state.signingKeys);
    gauge("tessera_sync_lag_seconds", "Seconds since the last completed resync with the database (clients compared by version, revocations and keys reloaded).", state.syncLagSeconds);
    gauge("tessera_database_up", "1 when the database answers, 0 during an outage.", () => (state.databaseUp() ? 1 : 0));
  }

  /** `route` must come from a fixed set (unknown paths as "unmatched"); the method may be anything. */
  httpRequest(route: string, method: string, status: number, seconds: number): void {
    this.httpRequests.increment(route, HTTP_METHOD_LABELS.has(method) ? method : "other", status);
    this.httpDuration.observe(route, seconds);
  }

  rpc(rpc: string, code: string, seconds: number): void {
    this.rpcRequests.increment(rpc, "", code);
    this.rpcDuration.observe(rpc, seconds);
  }

  tokenIssued(clientId: string, alg: string, grantType: string): void {
    let label = clientId;
    if (!this.clientLabels.has(clientId)) {
      if (this.clientLabels.size < MAX_CLIENT_LABELS) this.clientLabels.add(clientId);
      else label = "other";
    }
    this.tokensIssued.increment(label, alg, grantType);
  }

  authFailure(reason: string): void {
    this.authFailures.inc({ reason });
  }

  /**
   * `issuer` is a configured trusted issuer's id, or undefined for tokens naming no trusted one
   * ("unknown"); `way` and `reason` come from fixed sets of ours. Configured issuers beyond
   * MAX_CLIENT_LABELS fold into "other".
   */
  federatedIssuance(issuer: string, way: string): void {
    this.federatedIssued.inc({ issuer: this.issuerLabel(issuer), way });
  }

  federatedRefusal(issuer: string | undefined, way: string, reason: string): void {
    this.federatedRefused.inc({ issuer: this.issuerLabel(issuer), way, reason });
  }

  private issuerLabel(issuer: string | undefined): string {
    if (issuer === undefined) return "unknown";
    if (this.issuerLabels.has(issuer)) return issuer;
    if (this.issuerLabels.size >= MAX_CLIENT_LABELS) return "other";
    this.issuerLabels.add(issuer);
    return issuer;
  }

  rateLimit(limit: string): void {
    this.rateLimited.inc({ limit });
  }

  /** Both labels come from fixed sets of ours (issuer-key-cache.ts), never from a URL or issuer. */
  keyFetch(source: string, outcome: string): void {
    this.keyFetches.inc({ source, outcome });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
