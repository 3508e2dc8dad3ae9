import { withoutUndefined } from "../collectors/without-undefined.js";
import { type CounterRatio, createCounterRatio } from "./counter-ratio.js";
import { createEngineHttp, type EngineHttp } from "./engine-http.js";
import { clampRatio, metricNames, metricValue } from "./metric-value.js";
import { openAiEndpoint, parseOpenAiModels } from "./openai-models.js";
import { type EngineSignals, probeEngine } from "./probe.js";
import { type PromExposition, parsePrometheusText } from "./prometheus-text.js";
import type { EngineAdapter, EngineAdapterOptions } from "./types.js";

/**
 * Load signals from a vLLM /metrics page. Names changed across versions, newest first:
 * KV usage `vllm:kv_cache_usage_perc` (v1, ≥0.9) then `vllm:gpu_cache_usage_perc` (deprecated, removed);
 * prefix cache counters `vllm:prefix_cache_{hits,queries}_total`, then `vllm:gpu_prefix_cache_*_total`,
 * then the v0 gauge `vllm:gpu_prefix_cache_hit_rate` (-1 there means "no data").
 * Series carry `engine="<n>"` under data parallelism: requests are summed, KV usage averaged.
 */
const VLLM = {
  prefixHits: ["vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total"],
  prefixQueries: ["vllm:prefix_cache_queries_total", "vllm:gpu_prefix_cache_queries_total"],
  prefixHitRateGauge: ["vllm:gpu_prefix_cache_hit_rate"],
  running: ["vllm:num_requests_running"],
  waiting: ["vllm:num_requests_waiting"],
  kvUsage: ["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"],
} as const;

/** The vLLM metrics vllmSignals reads. */
export const VLLM_SIGNAL_METRICS = metricNames(VLLM);

/** Reads those signals from a parsed page (a full parse, or one kept to those names). */
export function vllmSignals(expo: PromExposition, prefix: CounterRatio): EngineSignals {
  const hits = metricValue(expo, VLLM.prefixHits, "sum");
  const queries = metricValue(expo, VLLM.prefixQueries, "sum");
  let prefixCacheHitRate: number | undefined;
  if (hits !== undefined && queries !== undefined) prefixCacheHitRate = prefix.update(hits, queries);
  else {
    const gauge = metricValue(expo, VLLM.prefixHitRateGauge, "mean");
    prefixCacheHitRate = gauge !== undefined && gauge >= 0 ? clampRatio(gauge) : undefined;
  }
  return withoutUndefined<EngineSignals>({
    runningRequests: metricValue(expo, VLLM.running, "sum"),
    waitingRequests: metricValue(expo, VLLM.waiting, "sum"),
    kvCacheUsage: clampRatio(metricValue(expo, VLLM.kvUsage, "mean")),
    prefixCacheHitRate,
  });
}

/** Builds the vLLM adapter's parts on an HTTP client; the sim adapter reuses them. */
export function vllmCore(
  http: EngineHttp,
): Pick<EngineAdapter, "version" | "listModels" | "probe" | "endpointFor"> {
  const prefix = createCounterRatio();
  return {
    async version() {
      try {
        const v = ((await http.json("/version")) as { version?: unknown } | null)?.version;
        return typeof v === "string" ? v : "";
      } catch {
        return "";
      }
    },
    async listModels() {
      return parseOpenAiModels(await http.json("/v1/models"));
    },
    probe() {
      return probeEngine(http, {
        healthPath: "/health",
        signals: async () => ({
          signals: vllmSignals(
            parsePrometheusText(await http.text("/metrics"), { only: VLLM_SIGNAL_METRICS }),
            prefix,
          ),
        }),
      });
    },
    endpointFor: openAiEndpoint,
  };
}

/** vLLM: /health, /version, /v1/models (max_model_len, LoRA parents), /metrics on the API port. */
export function createVllmAdapter(baseUrl: string, opts: EngineAdapterOptions = {}): EngineAdapter {
  const http = createEngineHttp(baseUrl, {
    timeoutMs: opts.timeoutMs ?? 3000,
    ...(opts.apiKey && { apiKey: opts.apiKey }),
  });
  return { kind: "vllm", baseUrl, ...vllmCore(http) };
}
