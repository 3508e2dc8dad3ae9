import type { Metrics } from "../metrics/metrics.js";

/** Fleet-wide figures the dashboard shows, sent once a second over `/v0/events`. */
export interface FleetFiguresJson {
  requests_per_s: number;
  errors_per_s: number;
  prompt_tokens_per_s: number;
  completion_tokens_per_s: number;
  /** Over the last {@link QUANTILE_WINDOW_S} seconds; null when no first token arrived in that window. */
  ttft_p50_ms: number | null;
  ttft_p99_ms: number | null;
  requests_total: number;
  /** Cumulative node selections by the reason the selector recorded. */
  selections_by_reason: Record<string, number>;
}

interface Sample {
  atMs: number;
  requests: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
  /** Cumulative TTFT counts per bucket upper bound (seconds; Infinity last), summed over models. */
  ttftBuckets: Map<number, number>;
}

// Rates over 5 s: one second alone jumps with every batch boundary; quantiles need more samples.
const RATE_WINDOW_S = 5;
/** How far back TTFT quantiles look. */
export const QUANTILE_WINDOW_S = 60;

/** Reads the prom-client counters and histograms into one sample (values are cumulative). */
async function read(metrics: Metrics, atMs: number): Promise<Sample> {
  const s: Sample = {
    atMs,
    requests: 0,
    errors: 0,
    promptTokens: 0,
    completionTokens: 0,
    ttftBuckets: new Map(),
  };
  for (const v of (await metrics.requests.get()).values) {
    s.requests += v.value;
    if (v.labels.status !== "ok") s.errors += v.value;
  }
  for (const v of (await metrics.tokens.get()).values) {
    if (v.labels.kind === "prompt") s.promptTokens += v.value;
    else if (v.labels.kind === "completion") s.completionTokens += v.value;
  }
  for (const v of (await metrics.ttft.get()).values) {
    if (!v.metricName?.endsWith("_bucket")) continue;
    // Bucket samples carry `le` beside the declared labels; prom-client's types omit it.
    const raw = (v.labels as Record<string, string | number | undefined>).le;
    const le = raw === "+Inf" ? Number.POSITIVE_INFINITY : Number(raw);
    s.ttftBuckets.set(le, (s.ttftBuckets.get(le) ?? 0) + v.value);
  }
  return s;
}

/**
 * A quantile of the observations between two cumulative histograms, interpolated inside its bucket
 * as Prometheus' histogram_quantile does; an answer in the +Inf bucket is clamped to the last bound.
 */
export function bucketQuantile(
  q: number,
  from: ReadonlyMap<number, number>,
  to: ReadonlyMap<number, number>,
): number | null {
  const bounds = [...to.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => (to.get(b) ?? 0) - (from.get(b) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (let i = 0; i < bounds.length; i++) {
    const upper = bounds[i] as number;
    const cum = counts[i] as number;
    if (cum >= rank) {
      if (!Number.isFinite(upper)) return lower;
      const inBucket = cum - below;
      return inBucket <= 0 ? upper : lower + ((upper - lower) * (rank - below)) / inBucket;
    }
    lower = upper;
    below = cum;
  }
  return lower;
}

/** Keeps a minute of once-a-second samples and turns them into rates and quantiles. */
export class FleetFigures {
  private readonly samples: Sample[] = [];

  constructor(
    private readonly metrics: Metrics,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Takes a sample and returns the figures over the windows ending now. */
  async next(): Promise<FleetFiguresJson> {
    const now = await read(this.metrics, this.clock());
    this.samples.push(now);
    while (this.samples.length > QUANTILE_WINDOW_S + 1) this.samples.shift();
    const first = this.samples[0] as Sample;
    const rateBase = this.samples[Math.max(0, this.samples.length - 1 - RATE_WINDOW_S)] as Sample;
    const dt = (now.atMs - rateBase.atMs) / 1000;
    const rate = (k: "requests" | "errors" | "promptTokens" | "completionTokens") =>
      dt > 0 ? Math.round(((now[k] - rateBase[k]) / dt) * 100) / 100 : 0;
    const ms = (v: number | null) => (v === null ? null : Math.round(v * 1000 * 10) / 10);
    const selections: Record<string, number> = {};
    for (const v of (await this.metrics.selections.get()).values) {
      const reason = String(v.labels.reason ?? "unknown");
      selections[reason] = (selections[reason] ?? 0) + v.value;
    }
    return {
      requests_per_s: rate("requests"),
      errors_per_s: rate("errors"),
      prompt_tokens_per_s: rate("promptTokens"),
      completion_tokens_per_s: rate("completionTokens"),
      ttft_p50_ms: ms(bucketQuantile(0.5, first === now ? new Map() : first.ttftBuckets, now.ttftBuckets)),
      ttft_p99_ms: ms(bucketQuantile(0.99, first === now ? new Map() : first.ttftBuckets, now.ttftBuckets)),
      requests_total: now.requests,
      selections_by_reason: selections,
    };
  }

  /** Forgets the samples (no client is listening; the next one starts afresh). */
  reset(): void {
    this.samples.length = 0;
  }
}
