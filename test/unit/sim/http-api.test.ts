import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningSim, SimGpuJson } from "../../../src/sim/index.js";
import { startSim } from "../../../src/sim/index.js";
import type { Chunk, Completion, Embeddings, ModelList } from "./helpers.js";
import { chat, getJson, postJson, readSse } from "./helpers.js";

let sim: RunningSim;
let base: string;

beforeAll(async () => {
  sim = await startSim({ profile: "rtx4090", model: "llama-3.2-1b", seed: 3, timeScale: 500 });
  base = sim.url;
});
afterAll(async () => {
  await sim.close();
});

describe("chat completions", () => {
  it("answers in the OpenAI shape with consistent usage", async () => {
    const res = await postJson(
      `${base}/v1/chat/completions`,
      chat("Hello there", { model: "llama-3.2-1b", max_tokens: 40 }),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    const body = (await res.json()) as Completion;
    expect(body.id).toMatch(/^chatcmpl-/);
    expect(body.object).toBe("chat.completion");
    expect(body.model).toBe("llama-3.2-1b");
    expect(typeof body.created).toBe("number");
    const choice = body.choices[0];
    expect(choice.index).toBe(0);
    expect(choice.message.role).toBe("assistant");
    expect(typeof choice.message.content).toBe("string");
    expect(["stop", "length"]).toContain(choice.finish_reason);
    const u = body.usage;
    expect(u.prompt_tokens).toBeGreaterThan(0);
    expect(u.completion_tokens).toBeGreaterThan(0);
    expect(u.completion_tokens).toBeLessThanOrEqual(40);
    expect(u.total_tokens).toBe(u.prompt_tokens + u.completion_tokens);
    if (u.completion_tokens < 40) expect(choice.finish_reason).toBe("stop");
  });

  it("generates exactly max_tokens with ignore_eos", async () => {
    const res = await postJson(
      `${base}/v1/chat/completions`,
      chat("count", { max_tokens: 77, ignore_eos: true }),
    );
    const body = (await res.json()) as Completion;
    expect(body.usage.completion_tokens).toBe(77);
    expect(body.choices[0].finish_reason).toBe("length");
  });

  it("streams SSE chunks ending in [DONE], with the same text as the non-streamed answer", async () => {
    const req = chat("Stream me something", { max_tokens: 30 });
    const plain = (await (await postJson(`${base}/v1/chat/completions`, req)).json()) as Completion;
    const res = await postJson(`${base}/v1/chat/completions`, { ...req, stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const sse = await readSse(res);
    expect(sse.data.at(-1)).toBe("[DONE]");
    expect(sse.raw.endsWith("data: [DONE]\n\n")).toBe(true);
    const chunks = sse.json as unknown as Chunk[];
    for (const c of chunks) {
      expect(c.object).toBe("chat.completion.chunk");
      expect(c.id).toBe(chunks[0]?.id);
      expect(c).not.toHaveProperty("usage");
    }
    expect(chunks[0]?.choices[0].delta).toEqual({ role: "assistant", content: "" });
    const text = chunks.map((c) => c.choices[0].delta.content ?? "").join("");
    expect(text).toBe(plain.choices[0].message.content);
    const finishes = chunks.map((c) => c.choices[0].finish_reason).filter((f) => f !== null);
    expect(finishes).toEqual([plain.choices[0].finish_reason]);
    expect(chunks.at(-1)?.choices[0].finish_reason).not.toBeNull();
  });

  it("adds a usage chunk with empty choices for stream_options.include_usage", async () => {
    const res = await postJson(
      `${base}/v1/chat/completions`,
      chat("usage please", {
        max_tokens: 12,
        ignore_eos: true,
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    const sse = await readSse(res);
    const chunks = sse.json as unknown as Chunk[];
    const last = chunks.at(-1) as Chunk;
    expect(last.choices).toEqual([]);
    expect(last.usage?.completion_tokens).toBe(12);
    expect(last.usage?.total_tokens).toBe((last.usage?.prompt_tokens ?? 0) + 12);
    for (const c of chunks.slice(0, -1)) expect(c.usage).toBeNull();
    expect(chunks.slice(0, -1).filter((c) => c.choices[0].delta.content !== undefined)).toHaveLength(13); // role + 12
  });
});

describe("text completions", () => {
  it("answers non-streamed and streamed as text_completion", async () => {
    const res = await postJson(`${base}/v1/completions`, {
      model: "llama-3.2-1b",
      prompt: "Once upon",
      max_tokens: 8,
      ignore_eos: true,
    });
    const body = (await res.json()) as Completion;
    expect(body.id).toMatch(/^cmpl-/);
    expect(body.object).toBe("text_completion");
    expect(typeof body.choices[0].text).toBe("string");
    expect(body.usage.prompt_tokens).toBe(3); // ceil(9 chars / 4)
    expect(body.usage.completion_tokens).toBe(8);

    const stream = await postJson(`${base}/v1/completions`, {
      prompt: [1, 2, 3, 4, 5],
      max_tokens: 5,
      stream: true,
    });
    const sse = await readSse(stream);
    expect(sse.data.at(-1)).toBe("[DONE]");
    const chunks = sse.json as unknown as Chunk[];
    expect(chunks.every((c) => c.object === "text_completion")).toBe(true);
    expect(chunks.at(-1)?.choices[0].finish_reason).not.toBeNull();
  });
});

describe("embeddings", () => {
  it("returns deterministic unit vectors and usage", async () => {
    const one = (await (
      await postJson(`${base}/v1/embeddings`, { input: ["alpha", "beta"] })
    ).json()) as Embeddings;
    const two = (await (await postJson(`${base}/v1/embeddings`, { input: "alpha" })).json()) as Embeddings;
    expect(one.object).toBe("list");
    expect(one.data).toHaveLength(2);
    expect(one.data[0].object).toBe("embedding");
    expect(one.data[1]?.index).toBe(1);
    expect(one.data[0].embedding).toEqual(two.data[0].embedding);
    expect(one.data[0].embedding).not.toEqual(one.data[1]?.embedding);
    const norm = Math.hypot(...(one.data[0].embedding as number[]));
    expect(norm).toBeCloseTo(1, 6);
    expect(one.usage.prompt_tokens).toBe(3); // ceil(5/4) + ceil(4/4)
    expect(one.usage.total_tokens).toBe(3);
    const small = (await (
      await postJson(`${base}/v1/embeddings`, { input: "x", dimensions: 8, encoding_format: "base64" })
    ).json()) as Embeddings;
    expect(Buffer.from(small.data[0].embedding as string, "base64")).toHaveLength(32);
  });
});

describe("engine endpoints", () => {
  it("lists the model in vLLM's shape", async () => {
    const body = await getJson<ModelList>(`${base}/v1/models`);
    expect(body.object).toBe("list");
    expect(body.data).toHaveLength(1);
    const m = body.data[0];
    expect(m).toMatchObject({
      id: "llama-3.2-1b",
      object: "model",
      owned_by: "vllm",
      root: "meta-llama/Llama-3.2-1B-Instruct",
    });
    expect(typeof m.created).toBe("number");
    expect(m.max_model_len).toBe(131072);
  });

  it("serves /health and /version", async () => {
    expect((await fetch(`${base}/health`)).status).toBe(200);
    const v = await getJson<{ version: string }>(`${base}/version`);
    expect(v.version).toMatch(/-sim$/);
  });

  it("exposes vLLM v1 metric names with model_name labels", async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    for (const name of [
      "vllm:num_requests_running",
      "vllm:num_requests_waiting",
      "vllm:kv_cache_usage_perc",
      "vllm:prefix_cache_queries_total",
      "vllm:prefix_cache_hits_total",
      "vllm:prompt_tokens_total",
      "vllm:generation_tokens_total",
      "vllm:time_to_first_token_seconds_bucket",
      "vllm:e2e_request_latency_seconds_count",
    ]) {
      expect(text).toMatch(new RegExp(`^${name}\\{[^}]*model_name="llama-3.2-1b"[^}]*\\} [0-9.e+-]+$`, "m"));
    }
    const generated = /^vllm:generation_tokens_total\{[^}]*\} ([0-9.]+)$/m.exec(text);
    expect(Number(generated?.[1])).toBeGreaterThan(0);
  });

  it("reports one simulated GPU in the agent's shape", async () => {
    const body = await getJson<{ gpus: SimGpuJson[] }>(`${base}/sim/gpu`);
    expect(body.gpus).toHaveLength(1);
    const g = body.gpus[0] as SimGpuJson;
    expect(Object.keys(g).sort()).toEqual(
      [
        "compute_capability",
        "driver_version",
        "index",
        "name",
        "power_watts",
        "temperature_celsius",
        "utilization_percent",
        "uuid",
        "vram_total_mib",
        "vram_used_mib",
      ].sort(),
    );
    expect(g).toMatchObject({
      index: 0,
      name: "NVIDIA GeForce RTX 4090",
      vram_total_mib: 24564,
      compute_capability: "8.9",
      driver_version: "sim",
    });
    expect(g.uuid).toMatch(/^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(g.vram_used_mib / g.vram_total_mib).toBeGreaterThan(0.85);
    expect(g.utilization_percent).toBeGreaterThanOrEqual(0);
    expect(g.utilization_percent).toBeLessThanOrEqual(100);
    expect((await getJson<{ gpus: { uuid: string }[] }>(`${base}/sim/gpu`)).gpus[0]?.uuid).toBe(g.uuid);
  });
});

describe("bad requests", () => {
  const cases: [string, string, unknown, number, string | null][] = [
    ["malformed JSON", "/v1/chat/completions", "{not json", 400, null],
    ["missing messages", "/v1/chat/completions", { model: "llama-3.2-1b" }, 400, "messages"],
    ["empty messages", "/v1/chat/completions", { messages: [] }, 400, "messages"],
    ["wrong model", "/v1/chat/completions", chat("hi", { model: "gpt-4o" }), 404, "model"],
    ["n > 1", "/v1/chat/completions", chat("hi", { n: 2 }), 400, "n"],
    ["bad max_tokens", "/v1/chat/completions", chat("hi", { max_tokens: 0 }), 400, "max_tokens"],
    [
      "stream_options without stream",
      "/v1/chat/completions",
      chat("hi", { stream_options: { include_usage: true } }),
      400,
      "stream_options",
    ],
    ["over the context", "/v1/chat/completions", chat("hi", { max_tokens: 200_000 }), 400, null],
    ["missing prompt", "/v1/completions", { max_tokens: 3 }, 400, "prompt"],
    ["wrong model (completions)", "/v1/completions", { model: "nope", prompt: "x" }, 404, "model"],
    ["bad embedding input", "/v1/embeddings", { input: 42 }, 400, "input"],
  ];
  it.each(cases)("%s → OpenAI-shaped error", async (_name, path, body, status, param) => {
    const res = await postJson(`${base}${path}`, body);
    expect(res.status).toBe(status);
    const err = (await res.json()) as { error: Record<string, unknown> };
    expect(Object.keys(err.error).sort()).toEqual(["code", "message", "param", "type"]);
    expect(typeof err.error.message).toBe("string");
    expect(err.error.type).toBe(status === 404 ? "NotFoundError" : "BadRequestError");
    expect(err.error.param).toBe(param);
    expect(err.error.code).toBe(status);
  });

  it("answers 413 to a body over 32 MiB", async () => {
    const res = await postJson(`${base}/v1/completions`, `{"prompt":"${"x".repeat(33 * 1024 * 1024)}"}`);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(413);
  });

  it("answers unknown paths 404 and wrong methods 405", async () => {
    expect((await fetch(`${base}/v2/nothing`)).status).toBe(404);
    expect((await fetch(`${base}/v1/chat/completions`)).status).toBe(405);
  });
});
