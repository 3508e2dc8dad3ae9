import { describe, expect, it } from "vitest";
import { createCounterRatio } from "../../../src/agent/engines/counter-ratio.js";
import {
  LLAMACPP_SIGNAL_METRICS,
  llamacppSignals,
  parseLlamacppModels,
  parseLlamacppSlots,
} from "../../../src/agent/engines/llamacpp.js";
import { parseOllamaModels } from "../../../src/agent/engines/ollama.js";
import { parseOpenAiModels } from "../../../src/agent/engines/openai-models.js";
import { parsePrometheusText } from "../../../src/agent/engines/prometheus-text.js";
import { SGLANG_SIGNAL_METRICS, sglangSignals } from "../../../src/agent/engines/sglang.js";
import { parseSimGpu } from "../../../src/agent/engines/sim.js";
import { parseTgiInfo, TGI_SIGNAL_METRICS, tgiSignals } from "../../../src/agent/engines/tgi.js";
import { VLLM_SIGNAL_METRICS, vllmSignals } from "../../../src/agent/engines/vllm.js";
import { readFixture } from "../../helpers/shared-fixtures.js";

const expo = (file: string) => parsePrometheusText(readFixture(file));
const names = (file: string) => new Set(readFixture(file).split("\n").filter(Boolean));
const json = (file: string): unknown => JSON.parse(readFixture(file));

describe("vLLM signals", () => {
  const V1 = "engines/vllm/metrics-v1-nvcr-25.09-qwen3-4b.prom";

  it("v1 (nvcr 25.09): kv_cache_usage_perc and the prefix-cache counters", () => {
    expect(vllmSignals(expo(V1), createCounterRatio())).toEqual({
      runningRequests: 0,
      waitingRequests: 0,
      kvCacheUsage: 0.0011764705882353343,
      prefixCacheHitRate: 80 / 246, // hits_total / queries_total on the first scrape
    });
  });

  it("falls back to the deprecated gpu_* names when the new ones are absent", () => {
    const oldOnly = readFixture(V1)
      .split("\n")
      .filter((l) => !/vllm:(kv_cache_usage_perc|prefix_cache_)/.test(l))
      .join("\n");
    const s = vllmSignals(parsePrometheusText(oldOnly), createCounterRatio());
    expect(s.kvCacheUsage).toBe(0.0011764705882353343); // vllm:gpu_cache_usage_perc
    expect(s.prefixCacheHitRate).toBe(80 / 246); // vllm:gpu_prefix_cache_{hits,queries}_total
  });

  it("v0 (aibrix excerpt): gpu_cache_usage_perc; a hit-rate gauge of -1 means unknown", () => {
    expect(
      vllmSignals(expo("engines/vllm/metrics-v0-excerpt-aibrix-qwen2.5-coder.prom"), createCounterRatio()),
    ).toEqual({
      runningRequests: 0,
      waitingRequests: 0,
      kvCacheUsage: 0,
    });
  });

  it("reads names a recent vLLM emits (LLMKube list), which no longer has gpu_cache_usage_perc", () => {
    const recent = names("engines/vllm/series-names-llmkube.txt");
    for (const n of [
      "vllm:num_requests_running",
      "vllm:num_requests_waiting",
      "vllm:kv_cache_usage_perc",
      "vllm:prefix_cache_hits_total",
      "vllm:prefix_cache_queries_total",
    ]) {
      expect(recent.has(n), n).toBe(true);
    }
    expect(recent.has("vllm:gpu_cache_usage_perc")).toBe(false);
  });
});

describe("counter ratio (prefix-cache hit rate from counters)", () => {
  it("uses the lifetime ratio first, then the rate between scrapes, and survives a reset", () => {
    const r = createCounterRatio();
    expect(r.update(0, 0)).toBeUndefined();
    expect(r.update(80, 246)).toBeCloseTo(80 / 246);
    expect(r.update(180, 346)).toBe(1); // 100 of the last 100 queried tokens hit
    expect(r.update(180, 346)).toBe(1); // no new queries: keep the last rate
    expect(r.update(10, 40)).toBe(0.25); // engine restarted: counters went down
  });
});

describe("SGLang signals", () => {
  it("docs scrape (Llama-3.1-8B under load)", () => {
    expect(sglangSignals(expo("engines/sglang/metrics-docs-llama3.1-8b.prom"), createCounterRatio())).toEqual(
      {
        runningRequests: 162,
        waitingRequests: 2826,
        kvCacheUsage: 0.28,
        prefixCacheHitRate: 0.007507552643049313,
      },
    );
  });

  it("reads names a recent SGLang still emits (LLMKube list)", () => {
    const recent = names("engines/sglang/series-names-llmkube.txt");
    for (const n of [
      "sglang:num_running_reqs",
      "sglang:num_queue_reqs",
      "sglang:token_usage",
      "sglang:cache_hit_rate",
      "sglang:cached_tokens_total",
      "sglang:prompt_tokens_total",
    ]) {
      expect(recent.has(n), n).toBe(true);
    }
  });

  it("does not multiply figures by the tensor-parallel degree", () => {
    // The docs scrape with each series duplicated as two TP ranks, as newer builds label them.
    const tp = readFixture("engines/sglang/metrics-docs-llama3.1-8b.prom")
      .split("\n")
      .flatMap((l) =>
        l.startsWith("sglang:") ? [0, 1].map((rank) => l.replace("{", `{tp_rank="${rank}",`)) : [l],
      )
      .join("\n");
    const s = sglangSignals(parsePrometheusText(tp), createCounterRatio());
    expect(s.runningRequests).toBe(162);
    expect(s.waitingRequests).toBe(2826);
  });
});

describe("llama.cpp", () => {
  it("metrics excerpt (PR #11512): processing and deferred, no KV gauge", () => {
    expect(llamacppSignals(expo("engines/llamacpp/metrics-help-type-excerpt-pr11512.prom"))).toEqual({
      runningRequests: 0,
      waitingRequests: 0,
    });
    const current = names("engines/llamacpp/series-names-llmkube.txt");
    expect(current.has("llamacpp:requests_processing")).toBe(true);
    expect(current.has("llamacpp:requests_deferred")).toBe(true);
    expect(current.has("llamacpp:kv_cache_usage_ratio")).toBe(false);
  });

  it("/slots: two slots, both processing, 65536 tokens each", () => {
    expect(parseLlamacppSlots(json("engines/llamacpp/slots-2-slots.json"))).toEqual({
      slots: 2,
      processing: 2,
      nCtx: 65536,
    });
  });

  it("/v1/models: the -m path plus its file name as aliases", () => {
    expect(parseLlamacppModels(json("engines/llamacpp/v1-models.json"), 65536)).toEqual([
      {
        id: "../models/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf",
        aliases: ["Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", "Meta-Llama-3.1-8B-Instruct-Q4_K_M"],
        maxContextTokens: 65536,
      },
    ]);
  });
});

describe("model lists", () => {
  it("vLLM /v1/models with LoRA adapters: adapters inherit the base model's context", () => {
    expect(parseOpenAiModels(json("engines/vllm/v1-models-lora-aibrix.json"))).toEqual([
      { id: "Qwen/Qwen2.5-Coder-1.5B-Instruct", aliases: [], maxContextTokens: 32768 },
      { id: "lora-1", aliases: [], maxContextTokens: 32768 },
      { id: "lora-2", aliases: [], maxContextTokens: 32768 },
    ]);
  });

  it("Ollama /api/tags + /api/ps (docs/api.md): tags, plus loaded models, ':latest' dropped as alias", () => {
    expect(
      parseOllamaModels(json("engines/ollama/api-tags.json"), json("engines/ollama/api-ps.json")),
    ).toEqual([
      { id: "deepseek-r1:latest", aliases: ["deepseek-r1"], maxContextTokens: 0 },
      { id: "llama3.2:latest", aliases: ["llama3.2"], maxContextTokens: 0 },
      { id: "mistral:latest", aliases: ["mistral"], maxContextTokens: 0 },
    ]);
  });

  it("Ollama /api/ps with context_length (openapi.yaml example)", () => {
    expect(parseOllamaModels({}, json("engines/ollama/api-ps.openapi-example.json"))).toEqual([
      { id: "gemma4", aliases: [], maxContextTokens: 4096 },
    ]);
  });

  it("TGI /info from the schema's example values", () => {
    const schema = json("engines/tgi/info-schema.openapi.json") as {
      properties: Record<string, { example?: string }>;
    };
    const ex = (k: string) => schema.properties[k]?.example;
    const info = {
      model_id: ex("model_id"),
      version: ex("version"),
      max_concurrent_requests: Number(ex("max_concurrent_requests")),
      max_total_tokens: Number(ex("max_total_tokens")),
    };
    expect(parseTgiInfo(info)).toEqual({
      modelId: "bigscience/blomm-560m",
      version: "0.5.0",
      maxConcurrentRequests: 128,
      maxTotalTokens: 2048,
    });
  });
});

describe("TGI metric names", () => {
  it("reads gauges that TGI's metrics reference lists", () => {
    const table = readFixture("engines/tgi/metrics-reference.md");
    expect(table).toMatch(/`tgi_batch_current_size`\s*\|[^|]*\|\s*Gauge/);
    expect(table).toMatch(/`tgi_queue_size`\s*\|[^|]*\|\s*Gauge/);
    // No real TGI scrape exists in the fixtures; this exposition only uses the documented names.
    expect(tgiSignals(parsePrometheusText("tgi_batch_current_size 5\ntgi_queue_size 3\n"))).toEqual({
      runningRequests: 5,
      waitingRequests: 3,
    });
  });
});

describe("sim /sim/gpu", () => {
  it("maps the simulator's GPU JSON to facts and live figures", () => {
    const body = {
      gpus: [
        {
          index: 0,
          uuid: "GPU-sim-0",
          name: "NVIDIA GeForce RTX 4090",
          vram_total_mib: 24564,
          vram_used_mib: 22000,
          utilization_percent: 37.5,
          temperature_celsius: 61,
          power_watts: 240,
          compute_capability: "8.9",
          driver_version: "sim",
        },
      ],
    };
    expect(parseSimGpu(body)).toEqual({
      facts: [
        {
          index: 0,
          uuid: "GPU-sim-0",
          name: "NVIDIA GeForce RTX 4090",
          vramTotalMib: 24564,
          computeCapability: "8.9",
          driverVersion: "sim",
        },
      ],
      samples: [
        {
          index: 0,
          utilizationPercent: 37.5,
          vramUsedMib: 22000,
          vramTotalMib: 24564,
          temperatureCelsius: 61,
          powerWatts: 240,
        },
      ],
    });
    expect(parseSimGpu({ nope: 1 })).toEqual({ facts: [], samples: [] });
  });
});

describe("signals from a parse kept to the names each adapter reads", () => {
  it.each([
    ["vllm v1", "engines/vllm/metrics-v1-nvcr-25.09-qwen3-4b.prom", VLLM_SIGNAL_METRICS, vllmSignals],
    [
      "vllm v0",
      "engines/vllm/metrics-v0-excerpt-aibrix-qwen2.5-coder.prom",
      VLLM_SIGNAL_METRICS,
      vllmSignals,
    ],
    ["sglang", "engines/sglang/metrics-docs-llama3.1-8b.prom", SGLANG_SIGNAL_METRICS, sglangSignals],
    [
      "llama.cpp",
      "engines/llamacpp/metrics-help-type-excerpt-pr11512.prom",
      LLAMACPP_SIGNAL_METRICS,
      llamacppSignals,
    ],
  ] as const)("%s: same signals as the full parse, and only those series kept", (_n, file, only, signals) => {
    const text = readFixture(file);
    const kept = parsePrometheusText(text, { only });
    const full = parsePrometheusText(text);
    expect(signals(kept, createCounterRatio())).toEqual(signals(full, createCounterRatio()));
    expect(kept.samples.length).toBeGreaterThan(0);
    expect(kept.samples.every((s) => only.has(s.name))).toBe(true);
    expect(kept.samples).toEqual(full.samples.filter((s) => only.has(s.name)));
  });

  it("tgi: the two gauges it reads survive the filter; other lines, even broken ones, are skipped", () => {
    const text = [
      "# TYPE tgi_queue_size gauge",
      "tgi_queue_size 3",
      "tgi_batch_current_size 5",
      'tgi_request_duration_bucket{le="0.1"} 1',
      "not a { valid line",
    ].join("\n");
    const kept = parsePrometheusText(text, { only: TGI_SIGNAL_METRICS });
    expect(tgiSignals(kept)).toEqual({ runningRequests: 5, waitingRequests: 3 });
    expect(kept.invalidLines).toBe(0);
    expect(kept.types.get("tgi_queue_size")).toBe("gauge");
    expect(parsePrometheusText(text).invalidLines).toBe(1);
  });
});
