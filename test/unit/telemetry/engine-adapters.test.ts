import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { EngineHttpError } from "../../../src/agent/engines/engine-http.js";
import { createEngineAdapter, ENGINE_KINDS } from "../../../src/agent/engines/registry.js";
import type { EngineKindName } from "../../../src/agent/engines/types.js";
import {
  type FixtureEngine,
  type FixtureEngineOptions,
  startFixtureEngine,
} from "../../helpers/fixture-engine.js";

const engines: FixtureEngine[] = [];
const servers: Server[] = [];

async function engine(opts: FixtureEngineOptions): Promise<FixtureEngine> {
  const e = await startFixtureEngine(opts);
  engines.push(e);
  return e;
}

afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        }),
    ),
  );
});

/** The contract's example body for the simulator's GET /sim/gpu. */
const SIM_GPU = {
  gpus: [
    {
      index: 0,
      uuid: "GPU-5f1e0b7a-sim",
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

describe("createEngineAdapter", () => {
  it("knows the seven engine kinds and rejects others with the list", () => {
    expect([...ENGINE_KINDS].sort()).toEqual([
      "llamacpp",
      "ollama",
      "openai",
      "sglang",
      "sim",
      "tgi",
      "vllm",
    ]);
    expect(() => createEngineAdapter("triton" as EngineKindName, "http://127.0.0.1:1")).toThrow(
      'unknown engine kind "triton"; valid kinds: vllm, sglang, llamacpp, ollama, tgi, openai, sim',
    );
    expect(() => createEngineAdapter("vllm", "not a url")).toThrow(/invalid engine URL/);
  });

  it("normalises the base URL (trailing slash, an OpenAI-style /v1)", () => {
    expect(createEngineAdapter("openai", "http://127.0.0.1:8000/v1/").baseUrl).toBe("http://127.0.0.1:8000");
    expect(createEngineAdapter("vllm", "http://127.0.0.1:8000/").endpointFor("chat")).toBe(
      "/v1/chat/completions",
    );
    expect(createEngineAdapter("vllm", "http://127.0.0.1:8000").endpointFor("embedding")).toBe(
      "/v1/embeddings",
    );
    expect(createEngineAdapter("ollama", "http://127.0.0.1:11434").endpointFor("completion")).toBe(
      "/v1/completions",
    );
  });
});

describe("adapters against fixture engines over real HTTP", () => {
  it("vLLM v1: models with LoRA, load signals from /metrics", async () => {
    const e = await engine({ kind: "vllm" });
    const a = createEngineAdapter("vllm", e.url);
    expect((await a.listModels()).map((m) => [m.id, m.maxContextTokens])).toEqual([
      ["Qwen/Qwen2.5-Coder-1.5B-Instruct", 32768],
      ["lora-1", 32768],
      ["lora-2", 32768],
    ]);
    expect(await a.probe()).toEqual({
      healthy: true,
      note: "",
      runningRequests: 0,
      waitingRequests: 0,
      kvCacheUsage: 0.0011764705882353343,
      prefixCacheHitRate: 80 / 246,
    });
    expect(await a.version()).toBe(""); // no /version route here: unknown, not an error
    expect(a.maxConcurrency).toBeUndefined();
  });

  it("vLLM v0 metrics", async () => {
    const e = await engine({
      kind: "vllm",
      metricsFile: "engines/vllm/metrics-v0-excerpt-aibrix-qwen2.5-coder.prom",
    });
    expect(await createEngineAdapter("vllm", e.url).probe()).toEqual({
      healthy: true,
      note: "",
      runningRequests: 0,
      waitingRequests: 0,
      kvCacheUsage: 0,
    });
  });

  it("SGLang: signals from /metrics; a missing /v1/models is an error for listModels, not for probe", async () => {
    const e = await engine({ kind: "sglang" });
    const a = createEngineAdapter("sglang", e.url);
    expect(await a.probe()).toMatchObject({
      healthy: true,
      runningRequests: 162,
      waitingRequests: 2826,
      kvCacheUsage: 0.28,
    });
    await expect(a.listModels()).rejects.toMatchObject({ code: "http_status", status: 404 });
    expect(await a.version()).toBe("");
    expect(await a.maxConcurrency?.()).toBeUndefined();
  });

  it("llama.cpp with /metrics disabled (501): running requests from /slots, slots as concurrency", async () => {
    const e = await engine({ kind: "llamacpp" });
    const a = createEngineAdapter("llamacpp", e.url);
    const p = await a.probe();
    expect(p).toMatchObject({ healthy: true, runningRequests: 2 });
    expect(p.note).toMatch(/start llama-server with --metrics/);
    expect(await a.maxConcurrency?.()).toBe(2);
    expect(await a.listModels()).toEqual([
      {
        id: "../models/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf",
        aliases: ["Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", "Meta-Llama-3.1-8B-Instruct-Q4_K_M"],
        maxContextTokens: 65536,
      },
    ]);
    expect(await a.version()).toBe("");
  });

  it("llama.cpp with --metrics, and while loading the model (503)", async () => {
    const e = await engine({
      kind: "llamacpp",
      metricsFile: "engines/llamacpp/metrics-help-type-excerpt-pr11512.prom",
    });
    const a = createEngineAdapter("llamacpp", e.url);
    expect(await a.probe()).toEqual({ healthy: true, note: "", runningRequests: 0, waitingRequests: 0 });
    e.setHealthy(false);
    expect(await a.probe()).toEqual({ healthy: false, note: "unhealthy: Loading model (HTTP 503)" });
  });

  it("llama.cpp with both /metrics and /slots disabled", async () => {
    const disabled = { status: 501, file: "engines/llamacpp/error-501-metrics-disabled.json" };
    const e = await engine({ kind: "llamacpp", routes: { "/slots": disabled } });
    const a = createEngineAdapter("llamacpp", e.url);
    const p = await a.probe();
    expect(p).toEqual({
      healthy: true,
      note: "metrics and slots disabled (start llama-server with --metrics)",
    });
    expect(await a.maxConcurrency?.()).toBeUndefined();
  });

  it("Ollama: version, models from /api/tags + /api/ps, no load metrics", async () => {
    const e = await engine({ kind: "ollama" });
    const a = createEngineAdapter("ollama", e.url);
    expect(await a.version()).toBe("0.5.1");
    expect((await a.listModels()).map((m) => m.id)).toEqual([
      "deepseek-r1:latest",
      "llama3.2:latest",
      "mistral:latest",
    ]);
    expect(await a.probe()).toEqual({
      healthy: true,
      note: "no load metrics (ollama); loaded: mistral:latest",
    });
  });

  it("TGI: /info gives model, version and max_concurrent_requests", async () => {
    // There is no real TGI scrape in the fixtures: this page only uses names from its metrics reference.
    const metrics = { body: "tgi_batch_current_size 5\ntgi_queue_size 3\n" };
    const e = await engine({ kind: "tgi", routes: { "/metrics": metrics } });
    const a = createEngineAdapter("tgi", e.url);
    expect(await a.version()).toBe("0.5.0");
    expect(await a.listModels()).toEqual([
      { id: "bigscience/blomm-560m", aliases: [], maxContextTokens: 2048 },
    ]);
    expect(await a.maxConcurrency?.()).toBe(128);
    expect(await a.probe()).toEqual({ healthy: true, note: "", runningRequests: 5, waitingRequests: 3 });
    e.setHealthy(false);
    const down = await a.probe();
    expect(down.healthy).toBe(false);
    expect(down.note).toMatch(/HTTP 503.*healthcheck/);
  });

  it("TGI without a reachable /metrics stays healthy, with the reason in the note", async () => {
    const e = await engine({ kind: "tgi" });
    const p = await createEngineAdapter("tgi", e.url).probe();
    expect(p.healthy).toBe(true);
    expect(p.runningRequests).toBeUndefined();
    expect(p.note).toMatch(/^no load signals: .*HTTP 404/);
  });

  it("generic OpenAI-compatible: models only, bearer key sent", async () => {
    const e = await engine({ kind: "openai" });
    const a = createEngineAdapter("openai", `${e.url}/v1`, { apiKey: "sk-test" });
    expect((await a.listModels()).map((m) => m.id)).toContain("lora-2");
    expect(await a.probe()).toEqual({
      healthy: true,
      note: "generic OpenAI-compatible engine: no load metrics",
    });
    expect(await a.version()).toBe("");
  });

  it("sim: vLLM metrics plus the simulated GPU reading", async () => {
    const e = await engine({
      kind: "sim",
      routes: {
        "/sim/gpu": { body: JSON.stringify(SIM_GPU), contentType: "application/json" },
        "/sim/state": { body: JSON.stringify({ max_num_seqs: 256 }), contentType: "application/json" },
      },
    });
    const a = createEngineAdapter("sim", e.url);
    expect(a.kind).toBe("sim");
    expect((await a.probe()).kvCacheUsage).toBe(0.0011764705882353343);
    expect(await a.maxConcurrency?.()).toBe(256);
    const g = await a.gpuReading?.();
    expect(g).toEqual({
      source: "simulated",
      note: "",
      ageMs: 0,
      facts: [
        {
          index: 0,
          uuid: "GPU-5f1e0b7a-sim",
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
  });
});

describe("engine failures never throw from probe()", () => {
  it.each(ENGINE_KINDS.map((k) => [k]))("%s: nothing listening → healthy=false with a note", async (kind) => {
    const e = await startFixtureEngine({ kind });
    await e.close(); // the port is now closed
    const a = createEngineAdapter(kind, e.url, { timeoutMs: 2000 });
    const p = await a.probe();
    expect(p.healthy).toBe(false);
    expect(p.note).toMatch(/^unreachable: .*ECONNREFUSED/);
    expect(await a.version()).toBe("");
    await expect(a.listModels()).rejects.toBeInstanceOf(EngineHttpError);
    const sim = await a.gpuReading?.();
    if (sim) expect(sim).toMatchObject({ source: "simulated", samples: [], ageMs: Number.POSITIVE_INFINITY });
  });

  it("an engine that accepts connections but never answers times out", async () => {
    const server = createServer(() => {
      // never respond
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const { port } = server.address() as AddressInfo;
    const p = await createEngineAdapter("vllm", `http://127.0.0.1:${port}`, { timeoutMs: 200 }).probe();
    expect(p).toEqual({ healthy: false, note: `GET http://127.0.0.1:${port}/health timed out after 200 ms` });
  });

  it("an engine that dies and comes back on the same port: healthy, down, healthy", async () => {
    const first = await startFixtureEngine({ kind: "vllm" });
    const a = createEngineAdapter("vllm", first.url, { timeoutMs: 2000 });
    expect((await a.probe()).healthy).toBe(true);
    await first.close();
    const down = await a.probe();
    expect(down.healthy).toBe(false);
    expect(down.note).toMatch(/^unreachable:/);
    const again = await engine({ kind: "vllm", port: first.port });
    expect(again.url).toBe(first.url);
    expect(await a.probe()).toMatchObject({ healthy: true, note: "", runningRequests: 0 });
  });

  it("health flapping via the engine's own health endpoint", async () => {
    const e = await engine({ kind: "vllm" });
    const a = createEngineAdapter("vllm", e.url);
    e.setHealthy(false);
    expect(await a.probe()).toEqual({ healthy: false, note: "unhealthy: HTTP 503" });
    e.setHealthy(true);
    expect((await a.probe()).healthy).toBe(true);
  });
});
