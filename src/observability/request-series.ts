/**
 * Per-request counts and latencies for the transports, recorded without prom-client's per-call
 * work. prom-client builds a label-key string, checks every label name and updates a dictionary
 * on each `inc` and `observe`: 9k of an introspection's ~240k event-loop instructions
 * (callgrind), for two numbers. Here a request walks three small maps to its tally and one
 * array for its bucket; the exposition is built when /metrics is scraped.
 *
 * Two metric families, as Prometheus users expect them:
 *   <total>{<primary>, [<secondary>], <outcome>}   counter
 *   <duration>{<primary>}                           histogram (seconds)
 */
import type { Metric, MetricValueWithName, Registry } from "prom-client";

type SampleValue = MetricValueWithName<string>;

export interface RequestSeriesOptions {
  readonly total: { readonly name: string; readonly help: string };
  readonly duration: { readonly name: string; readonly help: string };
  /** Label names: what was called (route, rpc), how (method; optional), and how it ended (status, code). */
  readonly labels: { readonly primary: string; readonly secondary?: string; readonly outcome: string };
  /** Upper bounds in seconds, ascending. */
  readonly buckets: readonly number[];
}

interface Latencies {
  /** Requests per bucket, not cumulative; the last slot is +Inf. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

export class RequestSeries {
  /** primary → secondary → outcome → requests. */
  private readonly totals = new Map<string, Map<string, Map<string | number, number>>>();
  private readonly latencies = new Map<string, Latencies>();

  constructor(
    registry: Registry,
    private readonly options: RequestSeriesOptions,
  ) {
    // prom-client's registry takes any object with its metrics' shape: a name, a type and
    // get(); its Metric type only lists its own classes.
    registry.registerMetric(this.family(options.total, "counter", () => this.totalValues()) as unknown as Metric);
    registry.registerMetric(this.family(options.duration, "histogram", () => this.durationValues()) as unknown as Metric);
  }

  record(primary: string, secondary: string, outcome: string | number, seconds: number): void {
    let bySecondary = this.totals.get(primary);
    if (bySecondary === undefined) this.totals.set(primary, (bySecondary = new Map()));
    let byOutcome = bySecondary.get(secondary);
    if (byOutcome === undefined) bySecondary.set(secondary, (byOutcome = new Map()));
    byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);

    let latencies = this.latencies.get(primary);
    if (latencies === undefined) {
      latencies = { counts: new Float64Array(this.options.buckets.length + 1), sum: 0, count: 0 };
      this.latencies.set(primary, latencies);
    }
    const { buckets } = this.options;
    let bucket = 0;
    while (bucket < buckets.length && seconds > buckets[bucket]!) bucket += 1;
    latencies.counts[bucket]! += 1;
    latencies.sum += seconds;
    latencies.count += 1;
  }

  private family(meta: { name: string; help: string }, type: "counter" | "histogram", values: () => SampleValue[]) {
    const { totals, latencies } = this;
    return {
      name: meta.name,
      help: meta.help,
      type,
      aggregator: "sum" as const,
      get: async () => ({ name: meta.name, help: meta.help, type, aggregator: "sum" as const, values: values() }),
      reset: () => (type === "counter" ? totals.clear() : latencies.clear()),
    };
  }

  private totalValues(): SampleValue[] {
    const { primary, secondary, outcome } = this.options.labels;
    const values: SampleValue[] = [];
    for (const [primaryValue, bySecondary] of this.totals) {
      for (const [secondaryValue, byOutcome] of bySecondary) {
        for (const [outcomeValue, count] of byOutcome) {
          const labels: Record<string, string> = { [primary]: primaryValue };
          if (secondary !== undefined) labels[secondary] = secondaryValue;
          labels[outcome] = String(outcomeValue);
          values.push({ labels, value: count });
        }
      }
    }
    return values;
  }

  private durationValues(): SampleValue[] {
    const { name } = this.options.duration;
    const { primary } = this.options.labels;
    const values: SampleValue[] = [];
    for (const [primaryValue, { counts, sum, count }] of this.latencies) {
      let cumulative = 0;
      this.options.buckets.forEach((bound, i) => {
        cumulative += counts[i]!;
        values.push({ metricName: `${name}_bucket`, labels: { [primary]: primaryValue, le: bound }, value: cumulative });
      });
      values.push({ metricName: `${name}_bucket`, labels: { [primary]: primaryValue, le: "+Inf" }, value: count });
      values.push({ metricName: `${name}_sum`, labels: { [primary]: primaryValue }, value: sum });
      values.push({ metricName: `${name}_count`, labels: { [primary]: primaryValue }, value: count });
    }
    return values;
  }
}
