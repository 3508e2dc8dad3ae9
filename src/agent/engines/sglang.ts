import { withoutUndefined } from "../collectors/without-undefined.js";
import { type CounterRatio, createCounterRatio } from "./counter-ratio.js";
import { createEngineHttp } from "./engine-http.js";
import { clampRatio, metricNames, metricValue } from "./metric-value.js";
import { openAiEndpoint, parseOpenAiModels } from "./openai-models.js";
import { type EngineSignals, probeEngine } from "./probe.js";
import { type PromExposition, parsePrometheusText } from "./prometheus-text.js";
import type { EngineAdapter, EngineAdapterOptions } from "./types.js";

/** Per-rank labels: each rank of one scheduler reports the same figures. */
const RANKS = { replicaLabels: ["tp_rank", "pp_rank", "moe_ep_rank"] } as const;

/**
 * Load signals from an SGLang /metrics page (server started with --enable-metrics):
 * `sglang:num_running_reqs`, `sglang:num_queue_reqs`, `sglang:token_usage` (KV use 0..1),
 * `sglang:cache_hit_rate` (0..1; newer builds also have the counter `sglang:cached_tokens_total`,
 * used against `sglang:prompt_tokens_total` when the gauge is absent).
 */
const SGLANG = {
  hitRate: ["sglang:cache_hit_rate"],
  cachedTokens: ["sglang:cached_tokens_total"],
  promptTokens: ["sglang:prompt_tokens_total"],
  running: ["sglang:num_running_reqs"],
  waiting: ["sglang:num_queue_reqs"],
  kvUsage: ["sglang:token_usage"],
} as const;

/** The SGLang metrics sglangSignals reads. */
export const SGLANG_SIGNAL_METRICS = metricNames(SGLANG);

/** Reads those signals from a parsed page (a full parse, or one kept to those names). */
export function sglangSignals(expo: PromExposition, cached: CounterRatio): EngineSignals {
  let prefixCacheHitRate = clampRatio(metricValue(expo, SGLANG.hitRate, "mean", RANKS));
  if (prefixCacheHitRate === undefined) {
    const hits = metricValue(expo, SGLANG.cachedTokens, "sum", RANKS);
    const prompts = metricValue(expo, SGLANG.promptTokens, "sum", RANKS);
    if (hits !== undefined && prompts !== undefined) prefixCacheHitRate = cached.update(hits, prompts);
  }
  return withoutUndefined<EngineSignals>({
    runningRequests: metricValue(expo, SGLANG.running, "sum", RANKS),
    waitingRequests: metricValue(expo, SGLANG.waiting, "sum", RANKS),
    kvCacheUsage: clampRatio(metricValue(expo, SGLANG.kvUsage, "mean", RANKS)),
    prefixCacheHitRate,
  });
}

/** SGLang: /health, /get_server_info (version, max_running_requests), /v1/models, /metrics. */
export function createSglangAdapter(baseUrl: string, opts: EngineAdapterOptions = {}): EngineAdapter {
  const http = createEngineHttp(baseUrl, {
    timeoutMs: opts.timeoutMs ?? 3000,
    ...(opts.apiKey && { apiKey: opts.apiKey }),
  });
  const cached = createCounterRatio();
  const serverInfo = async (): Promise<Record<string, unknown>> => {
    const info = await http.json("/get_server_info");
    return typeof info === "object" && info !== null ? (info as Record<string, unknown>) : {};
  };
  return {
    kind: "sglang",
    baseUrl,
    async version() {
      try {
        const v = (await serverInfo()).version;
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
          signals: sglangSignals(
            parsePrometheusText(await http.text("/metrics"), { only: SGLANG_SIGNAL_METRICS }),
            cached,
          ),
        }),
      });
    },
    endpointFor: openAiEndpoint,
    async maxConcurrency() {
      try {
        const n = (await serverInfo()).max_running_requests;
        return typeof n === "number" && n > 0 ? n : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
