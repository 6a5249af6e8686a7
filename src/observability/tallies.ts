/**
 * Counters and histograms recorded on every request, without prom-client's per-call work.
 * prom-client builds a label-key string, checks every label name and updates a dictionary on
 * each `inc` and `observe`, which is a real share of a request's event-loop work for two
 * numbers. Here a request walks up to three small maps to its tally, and one array for
 * its bucket; the Prometheus exposition is built when /metrics is scraped.
 */
import type { Metric, MetricValueWithName, Registry } from "prom-client";

type Sample = MetricValueWithName<string>;

interface FamilyOptions {
  readonly name: string;
  readonly help: string;
}

/** Registers a family whose samples are computed at scrape time; prom-client's registry takes any object of its metrics' shape. */
function registerFamily(registry: Registry, meta: FamilyOptions, type: "counter" | "histogram", samples: () => Sample[], reset: () => void): void {
  const family = {
    name: meta.name,
    help: meta.help,
    type,
    aggregator: "sum" as const,
    get: async () => ({ name: meta.name, help: meta.help, type, aggregator: "sum" as const, values: samples() }),
    reset,
  };
  // Its Metric type lists only prom-client's own classes.
  registry.registerMetric(family as unknown as Metric);
}

/** A counter with up to three labels; the second may be left out (labels.second undefined). */
export class CounterTally {
  /** first → second → third → count. */
  private readonly counts = new Map<string, Map<string, Map<string | number, number>>>();

  constructor(
    registry: Registry,
    private readonly options: FamilyOptions & { readonly labels: { readonly first: string; readonly second?: string; readonly third: string } },
  ) {
    registerFamily(registry, options, "counter", () => this.samples(), () => this.counts.clear());
  }

  /** Adds one; pass "" as `second` when the counter has no second label. */
  increment(first: string, second: string, third: string | number): void {
    let bySecond = this.counts.get(first);
    if (bySecond === undefined) this.counts.set(first, (bySecond = new Map()));
    let byThird = bySecond.get(second);
    if (byThird === undefined) bySecond.set(second, (byThird = new Map()));
    byThird.set(third, (byThird.get(third) ?? 0) + 1);
  }

  private samples(): Sample[] {
    const { first, second, third } = this.options.labels;
    const samples: Sample[] = [];
    for (const [firstValue, bySecond] of this.counts) {
      for (const [secondValue, byThird] of bySecond) {
        for (const [thirdValue, count] of byThird) {
          const labels: Record<string, string> = { [first]: firstValue };
          if (second !== undefined) labels[second] = secondValue;
          labels[third] = String(thirdValue);
          samples.push({ metricName: this.options.name, labels, value: count });
        }
      }
    }
    return samples;
  }
}

interface Latencies {
  /** Observations per bucket, not cumulative; the last slot is +Inf. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** A histogram with one label. */
export class HistogramTally {
  private readonly series = new Map<string, Latencies>();

  constructor(
    registry: Registry,
    private readonly options: FamilyOptions & { readonly label: string; /** Upper bounds, ascending. */ readonly buckets: readonly number[] },
  ) {
    registerFamily(registry, options, "histogram", () => this.samples(), () => this.series.clear());
  }

  observe(labelValue: string, value: number): void {
    let latencies = this.series.get(labelValue);
    if (latencies === undefined) {
      latencies = { counts: new Float64Array(this.options.buckets.length + 1), sum: 0, count: 0 };
      this.series.set(labelValue, latencies);
    }
    const { buckets } = this.options;
    let bucket = 0;
    while (bucket < buckets.length && value > buckets[bucket]!) bucket += 1;
    latencies.counts[bucket]! += 1;
    latencies.sum += value;
    latencies.count += 1;
  }

  private samples(): Sample[] {
    const { name, label } = this.options;
    const samples: Sample[] = [];
    for (const [labelValue, { counts, sum, count }] of this.series) {
      let cumulative = 0;
      this.options.buckets.forEach((bound, i) => {
        cumulative += counts[i]!;
        samples.push({ metricName: `${name}_bucket`, labels: { [label]: labelValue, le: bound }, value: cumulative });
      });
      samples.push({ metricName: `${name}_bucket`, labels: { [label]: labelValue, le: "+Inf" }, value: count });
      samples.push({ metricName: `${name}_sum`, labels: { [label]: labelValue }, value: sum });
      samples.push({ metricName: `${name}_count`, labels: { [label]: labelValue }, value: count });
    }
    return samples;
  }
}
