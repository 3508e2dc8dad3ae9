import { withoutUndefined } from "../collectors/without-undefined.js";
import { createEngineHttp, type EngineHttp } from "./engine-http.js";
import { metricNames, metricValue } from "./metric-value.js";
import { openAiEndpoint } from "./openai-models.js";
import { type EngineSignals, probeEngine } from "./probe.js";
import { type PromExposition, parsePrometheusText } from "./prometheus-text.js";
import type { EngineAdapter, EngineAdapterOptions, EngineModel } from "./types.js";

/**
 * Load signals from TGI's /metrics: `tgi_batch_current_size` (requests in the running batch) and
 * `tgi_queue_size` (waiting). TGI exports no KV-cache usage and no prefix-cache rate.
 */
const TGI = { running: ["tgi_batch_current_size"], waiting: ["tgi_queue_size"] } as const;

/** The TGI metrics tgiSignals reads. */
export const TGI_SIGNAL_METRICS = metricNames(TGI);

/** Reads those signals from a parsed page (a full parse, or one kept to those names). */
export function tgiSignals(expo: PromExposition): EngineSignals {
  return withoutUndefined<EngineSignals>({
    runningRequests: metricValue(expo, TGI.running, "sum"),
    waitingRequests: metricValue(expo, TGI.waiting, "sum"),
  });
}

/** The parts of TGI's GET /info the agent uses. */
export interface TgiInfo {
  modelId: string;
  version: string;
  maxConcurrentRequests?: number;
  maxTotalTokens?: number;
}

/** Parses GET /info (`model_id`, `version`, `max_concurrent_requests`, `max_total_tokens`). */
export function parseTgiInfo(json: unknown): TgiInfo {
  const info = (typeof json === "object" && json !== null ? json : {}) as Record<string, unknown>;
  const int = (v: unknown): number | undefined =>
    typeof v === "number" && Number.isFinite(v) && v > 0 ? v : undefined;
  return withoutUndefined<TgiInfo>({
    modelId: typeof info.model_id === "string" ? info.model_id : "",
    version: typeof info.version === "string" ? info.version : "",
    maxConcurrentRequests: int(info.max_concurrent_requests),
    maxTotalTokens: int(info.max_total_tokens),
  });
}

async function info(http: EngineHttp): Promise<TgiInfo> {
  return parseTgiInfo(await http.json("/info"));
}

/** Hugging Face TGI: /health, /info (model, version, limits), /metrics on the router port. */
export function createTgiAdapter(baseUrl: string, opts: EngineAdapterOptions = {}): EngineAdapter {
  const http = createEngineHttp(baseUrl, {
    timeoutMs: opts.timeoutMs ?? 3000,
    ...(opts.apiKey && { apiKey: opts.apiKey }),
  });
  return {
    kind: "tgi",
    baseUrl,
    async version() {
      try {
        return (await info(http)).version;
      } catch {
        return "";
      }
    },
    async listModels(): Promise<EngineModel[]> {
      // TGI serves exactly one model, named by /info; max_total_tokens bounds prompt + output.
      const i = await info(http);
      if (i.modelId === "") return [];
      return [{ id: i.modelId, aliases: [], maxContextTokens: i.maxTotalTokens ?? 0 }];
    },
    probe() {
      return probeEngine(http, {
        healthPath: "/health",
        signals: async () => ({
          signals: tgiSignals(parsePrometheusText(await http.text("/metrics"), { only: TGI_SIGNAL_METRICS })),
        }),
      });
    },
    endpointFor: openAiEndpoint,
    async maxConcurrency() {
      try {
        return (await info(http)).maxConcurrentRequests;
      } catch {
        return undefined;
      }
    },
  };
}
