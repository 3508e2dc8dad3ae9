// Counters and histograms of the simulated engine, rendered with vLLM v1's metric names and labels.

/** Bucket bounds copied from a real vLLM v1 scrape (shared/fixtures/engines/vllm). */
const TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640,
  2560,
];
const LATENCY_BUCKETS = [
  0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680,
];
const ITL_BUCKETS = [
  0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80,
];
const TOKEN_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];

/** A cumulative Prometheus histogram with fixed bounds. */
export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length).fill(0);
  }

  /** Records one value. */
  observe(value: number): void {
    this.sum += value;
    this.count++;
    for (let i = 0; i < this.bounds.length; i++) {
      if (value <= (this.bounds[i] as number)) {
        this.counts[i] = (this.counts[i] as number) + 1;
        return;
      }
    }
  }

  /** Text exposition lines; `labels` is the label set without `le`. */
  render(name: string, help: string, labels: string): string {
    let out = `# HELP ${name} ${help}\n# TYPE ${name} histogram\n`;
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i] as number;
      out += `${name}_bucket{le="${fmt(this.bounds[i] as number)}",${labels}} ${fmt(cumulative)}\n`;
    }
    out += `${name}_bucket{le="+Inf",${labels}} ${fmt(this.count)}\n`;
    out += `${name}_count{${labels}} ${fmt(this.count)}\n${name}_sum{${labels}} ${fmt(this.sum)}\n`;
    return out;
  }
}

/** Why a request left the engine, as vllm:request_success_total labels it. */
export type FinishedReason = "stop" | "length" | "abort";

/** Cumulative engine statistics; the scheduler and the HTTP layer add to them. */
export class SimStats {
  promptTokens = 0;
  generationTokens = 0;
  prefixQueries = 0;
  prefixHits = 0;
  preemptions = 0;
  steps = 0;
  completed = 0;
  cancelled = 0;
  failed = 0;
  readonly finished: Record<FinishedReason, number> = { stop: 0, length: 0, abort: 0 };
  readonly ttft = new Histogram(TTFT_BUCKETS);
  readonly e2e = new Histogram(LATENCY_BUCKETS);
  readonly queueTime = new Histogram(LATENCY_BUCKETS);
  readonly interToken = new Histogram(ITL_BUCKETS);
  readonly requestPromptTokens = new Histogram(TOKEN_BUCKETS);
  readonly requestGenerationTokens = new Histogram(TOKEN_BUCKETS);
}

/** Live gauges read at scrape time. */
export interface EngineGauges {
  readonly running: number;
  readonly waiting: number;
  readonly kvCacheUsage: number;
  readonly numGpuBlocks: number;
  readonly blockSize: number;
  readonly gpuMemoryUtilization: number;
}

/** Renders /metrics in Prometheus text format with vLLM v1 names and {engine, model_name} labels. */
export function renderMetrics(stats: SimStats, gauges: EngineGauges, modelName: string): string {
  const labels = `engine="0",model_name="${escapeLabel(modelName)}"`;
  const gauge = (name: string, help: string, value: number): string =>
    `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name}{${labels}} ${fmt(value)}\n`;
  const counter = (name: string, help: string, value: number): string =>
    `# HELP ${name} ${help}\n# TYPE ${name} counter\n${name}{${labels}} ${fmt(value)}\n`;
  let out = "";
  out += gauge("vllm:num_requests_running", "Number of requests in model execution batches.", gauges.running);
  out += gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", gauges.waiting);
  out += gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", gauges.kvCacheUsage);
  out += counter(
    "vllm:prefix_cache_queries_total",
    "Prefix cache queries, in terms of number of queried tokens.",
    stats.prefixQueries,
  );
  out += counter(
    "vllm:prefix_cache_hits_total",
    "Prefix cache hits, in terms of number of cached tokens.",
    stats.prefixHits,
  );
  out += counter(
    "vllm:num_preemptions_total",
    "Cumulative number of preemption from the engine.",
    stats.preemptions,
  );
  out += counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.", stats.promptTokens);
  out += counter(
    "vllm:generation_tokens_total",
    "Number of generation tokens processed.",
    stats.generationTokens,
  );
  out += "# HELP vllm:request_success_total Count of successfully processed requests.\n";
  out += "# TYPE vllm:request_success_total counter\n";
  for (const reason of ["stop", "length", "abort"] as const) {
    out += `vllm:request_success_total{engine="0",finished_reason="${reason}",model_name="${escapeLabel(modelName)}"} ${fmt(stats.finished[reason])}\n`;
  }
  out += stats.requestPromptTokens.render(
    "vllm:request_prompt_tokens",
    "Number of prefill tokens processed.",
    labels,
  );
  out += stats.requestGenerationTokens.render(
    "vllm:request_generation_tokens",
    "Number of generation tokens processed.",
    labels,
  );
  out += stats.ttft.render(
    "vllm:time_to_first_token_seconds",
    "Histogram of time to first token in seconds.",
    labels,
  );
  out += stats.interToken.render(
    "vllm:inter_token_latency_seconds",
    "Histogram of inter-token latency in seconds.",
    labels,
  );
  out += stats.e2e.render(
    "vllm:e2e_request_latency_seconds",
    "Histogram of e2e request latency in seconds.",
    labels,
  );
  out += stats.queueTime.render(
    "vllm:request_queue_time_seconds",
    "Histogram of time spent in WAITING phase for request.",
    labels,
  );
  out += "# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n";
  out += "# TYPE vllm:cache_config_info gauge\n";
  out +=
    `vllm:cache_config_info{block_size="${gauges.blockSize}",cache_dtype="auto",enable_prefix_caching="True",` +
    `engine="0",gpu_memory_utilization="${gauges.gpuMemoryUtilization}",num_gpu_blocks="${gauges.numGpuBlocks}"} 1.0\n`;
  return out;
}

/** Python-style float text, as prometheus_client prints values ("0.0", "12.0", "1e-05"). */
function fmt(value: number): string {
  if (Number.isInteger(value)) return `${value}.0`;
  return String(value);
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
