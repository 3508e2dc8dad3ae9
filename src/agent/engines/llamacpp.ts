import { withoutUndefined } from "../collectors/without-undefined.js";
import { createEngineHttp, type EngineHttp } from "./engine-http.js";
import { clampRatio, metricNames, metricValue } from "./metric-value.js";
import { listEntries, openAiEndpoint } from "./openai-models.js";
import { type EngineSignals, probeEngine } from "./probe.js";
import { type PromExposition, parsePrometheusText } from "./prometheus-text.js";
import type { EngineAdapter, EngineAdapterOptions, EngineModel } from "./types.js";

/**
 * Load signals from llama-server's /metrics (only with --metrics): `llamacpp:requests_processing`,
 * `llamacpp:requests_deferred`, and `llamacpp:kv_cache_usage_ratio`, which only older builds export
 * (removed in llama.cpp PR #13660), so KV usage is usually unknown.
 */
const LLAMACPP = {
  running: ["llamacpp:requests_processing"],
  waiting: ["llamacpp:requests_deferred"],
  kvUsage: ["llamacpp:kv_cache_usage_ratio"],
} as const;

/** The llama.cpp metrics llamacppSignals reads. */
export const LLAMACPP_SIGNAL_METRICS = metricNames(LLAMACPP);

/** Reads those signals from a parsed page (a full parse, or one kept to those names). */
export function llamacppSignals(expo: PromExposition): EngineSignals {
  return withoutUndefined<EngineSignals>({
    runningRequests: metricValue(expo, LLAMACPP.running, "sum"),
    waitingRequests: metricValue(expo, LLAMACPP.waiting, "sum"),
    kvCacheUsage: clampRatio(metricValue(expo, LLAMACPP.kvUsage, "mean")),
  });
}

/** Slot figures from GET /slots: how many slots exist and how many are processing a request. */
export function parseLlamacppSlots(json: unknown): { slots: number; processing: number; nCtx?: number } {
  const slots = Array.isArray(json)
    ? json.filter((s): s is Record<string, unknown> => typeof s === "object" && s !== null)
    : [];
  const nCtx = slots.map((s) => s.n_ctx).find((n): n is number => typeof n === "number" && n > 0);
  return {
    slots: slots.length,
    processing: slots.filter((s) => s.is_processing === true).length,
    ...(nCtx !== undefined && { nCtx }),
  };
}

/**
 * Models from llama-server's /v1/models. The id is the -m path or the --alias; for a path, the file
 * name with and without ".gguf" become aliases so clients need not know the server's directory.
 */
export function parseLlamacppModels(json: unknown, nCtx: number): EngineModel[] {
  return listEntries(json)
    .filter((e) => typeof e.id === "string" && e.id !== "")
    .map((e) => {
      const id = e.id as string;
      const base = id.split(/[\\/]/).pop() ?? id;
      const stem = base.replace(/\.gguf$/i, "");
      const aliases = [...new Set([base, stem])].filter((a) => a !== id && a !== "");
      return { id, aliases, maxContextTokens: nCtx };
    });
}

/** GET /props as an object ({} when absent: older builds or --no-props style setups). */
async function props(http: EngineHttp): Promise<Record<string, unknown>> {
  try {
    const p = await http.json("/props");
    return typeof p === "object" && p !== null ? (p as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

async function slots(http: EngineHttp): Promise<ReturnType<typeof parseLlamacppSlots> | undefined> {
  try {
    return parseLlamacppSlots(await http.json("/slots"));
  } catch {
    return undefined; // --no-slots answers 501
  }
}

/** llama.cpp server: /health (503 while loading), /metrics (501 unless --metrics), /slots, /props. */
export function createLlamacppAdapter(baseUrl: string, opts: EngineAdapterOptions = {}): EngineAdapter {
  const http = createEngineHttp(baseUrl, {
    timeoutMs: opts.timeoutMs ?? 3000,
    ...(opts.apiKey && { apiKey: opts.apiKey }),
  });

  const signals = async (): Promise<{ signals: EngineSignals; note?: string }> => {
    const metrics = await http.get("/metrics");
    if (metrics.status >= 200 && metrics.status < 300)
      return {
        signals: llamacppSignals(parsePrometheusText(metrics.body, { only: LLAMACPP_SIGNAL_METRICS })),
      };
    if (metrics.status !== 501 && metrics.status !== 404) {
      throw new Error(`GET /metrics: HTTP ${metrics.status}`);
    }
    // Metrics are off by default; /slots is on by default and still tells how many requests run.
    const s = await slots(http);
    if (s === undefined)
      return { signals: {}, note: "metrics and slots disabled (start llama-server with --metrics)" };
    return {
      signals: { runningRequests: s.processing },
      note: "metrics disabled (start llama-server with --metrics); running requests from /slots",
    };
  };

  return {
    kind: "llamacpp",
    baseUrl,
    async version() {
      const b = (await props(http)).build_info;
      return typeof b === "string" ? b : "";
    },
    async listModels() {
      const [models, p] = await Promise.all([http.json("/v1/models"), props(http)]);
      const fromProps = (p.default_generation_settings as { n_ctx?: unknown } | undefined)?.n_ctx;
      const nCtx =
        typeof fromProps === "number" && fromProps > 0 ? fromProps : ((await slots(http))?.nCtx ?? 0);
      return parseLlamacppModels(models, nCtx);
    },
    probe() {
      return probeEngine(http, {
        healthPath: "/health",
        signals,
        describeUnhealthy: (status, body) => {
          try {
            const msg = (JSON.parse(body) as { error?: { message?: unknown } }).error?.message;
            if (typeof msg === "string") return `${msg} (HTTP ${status})`;
          } catch {
            // not JSON: fall through to the status
          }
          return `HTTP ${status}`;
        },
      });
    },
    endpointFor: openAiEndpoint,
    async maxConcurrency() {
      const total = (await props(http)).total_slots;
      if (typeof total === "number" && total > 0) return total;
      const s = await slots(http);
      return s && s.slots > 0 ? s.slots : undefined;
    },
  };
}
