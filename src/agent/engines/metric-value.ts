import type { PromExposition, PromSample } from "./prometheus-text.js";

/** How series of one metric combine into one figure. */
export type Aggregate = "sum" | "mean" | "max";

/** Options of metricValue. */
export interface MetricValueOptions {
  /**
   * Labels whose series are copies of one figure, not parts of it: SGLang exports one series per
   * tensor-parallel rank, so summing `num_running_reqs` over `tp_rank` would multiply it.
   */
  replicaLabels?: readonly string[];
}

function groupKey(sample: PromSample, replicaLabels: readonly string[]): string {
  return Object.entries(sample.labels)
    .filter(([k]) => !replicaLabels.includes(k))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/**
 * The value of the first metric in `names` that has finite samples, combined across series
 * (e.g. vLLM's `engine` label under data parallelism: sum requests, average KV usage).
 * Listing old and new names handles renames between engine versions. Undefined when none is present.
 */
export function metricValue(
  expo: PromExposition,
  names: readonly string[],
  how: Aggregate,
  opts: MetricValueOptions = {},
): number | undefined {
  const replicaLabels = opts.replicaLabels ?? [];
  for (const name of names) {
    const groups = new Map<string, number>();
    for (const s of expo.samples) {
      if (s.name !== name || !Number.isFinite(s.value)) continue;
      const key = groupKey(s, replicaLabels);
      groups.set(key, Math.max(groups.get(key) ?? Number.NEGATIVE_INFINITY, s.value));
    }
    if (groups.size === 0) continue;
    const values = [...groups.values()];
    if (how === "max") return Math.max(...values);
    const sum = values.reduce((a, b) => a + b, 0);
    return how === "sum" ? sum : sum / values.length;
  }
  return undefined;
}

/** Clamps a ratio to 0..1; undefined stays undefined. */
export function clampRatio(value: number | undefined): number | undefined {
  if (value === undefined || !Number.isFinite(value)) return undefined;
  return Math.min(1, Math.max(0, value));
}

/** Every metric name an adapter's signal table reads: what it asks parsePrometheusText to keep. */
export function metricNames(table: Readonly<Record<string, readonly string[]>>): ReadonlySet<string> {
  return new Set(Object.values(table).flat());
}
