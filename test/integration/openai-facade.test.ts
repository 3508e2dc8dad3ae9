import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, simState, startCluster } from "../helpers/cluster.js";

let c: Cluster;

beforeAll(async () => {
  c = await startCluster({
    nodes: [
      { id: "n-4090", profile: "rtx4090", model: "llama-3.1-8b", seed: 1 },
      { id: "n-3080", profile: "rtx3080", model: "llama-3.2-1b", seed: 2 },
    ],
    timeScale: 20,
  });
}, 60_000);

afterAll(async () => {
  await c?.stop();
});

describe("OpenAI facade through real agents and sims (official openai SDK)", () => {
  it("answers a non-streamed chat completion with usage and routing headers", async () => {
    const { data, response } = await c.openai.chat.completions
      .create({ model: "llama-3.1-8b", messages: [{ role: "user", content: "Hello there" }], max_tokens: 12 })
      .withResponse();
    expect(data.object).toBe("chat.completion");
    expect(data.model).toBe("llama-3.1-8b");
    expect(data.choices[0]?.message.role).toBe("assistant");
    expect(data.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(["stop", "length"]).toContain(data.choices[0]?.finish_reason);
    expect(data.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(data.usage?.completion_tokens).toBeGreaterThan(0);
    expect(data.usage?.completion_tokens).toBeLessThanOrEqual(12);
    expect(response.headers.get("x-llmlb-node")).toBe("n-4090");
    expect(response.headers.get("x-llmlb-route-reason")).toMatch(/\w+/);
    expect(response.headers.get("x-request-id")).toMatch(/\S+/);
  });

  it("streams a chat completion as OpenAI SSE with a final usage chunk", async () => {
    const stream = await c.openai.chat.completions.create({
      model: "llama-3.2-1b",
      messages: [{ role: "user", content: "Stream please" }],
      max_tokens: 20,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usageChunks = 0;
    let finish: string | null = null;
    let sawRole = false;
    for await (const chunk of stream) {
      expect(chunk.object).toBe("chat.completion.chunk");
      const choice = chunk.choices[0];
      if (choice) {
        if (choice.delta.role === "assistant") sawRole = true;
        text += choice.delta.content ?? "";
        finish = choice.finish_reason ?? finish;
      }
      if (chunk.usage) {
        usageChunks++;
        expect(chunk.choices).toHaveLength(0);
        expect(chunk.usage.completion_tokens).toBeGreaterThan(0);
      }
    }
    expect(sawRole).toBe(true);
    expect(text.length).toBeGreaterThan(0);
    expect(finish).not.toBeNull();
    expect(usageChunks).toBe(1);
  });

  it("serves legacy completions, streamed and not", async () => {
    const r = await c.openai.completions.create({
      model: "llama-3.1-8b",
      prompt: "Once upon a time",
      max_tokens: 8,
    });
    expect(r.object).toBe("text_completion");
    expect(r.choices[0]?.text.length).toBeGreaterThan(0);
    const s = await c.openai.completions.create({
      model: "llama-3.1-8b",
      prompt: "Once",
      max_tokens: 8,
      stream: true,
    });
    let text = "";
    for await (const ch of s) text += ch.choices[0]?.text ?? "";
    expect(text.length).toBeGreaterThan(0);
  });

  it("serves embeddings", async () => {
    const r = await c.openai.embeddings.create({ model: "llama-3.1-8b", input: ["a", "b"] });
    expect(r.data).toHaveLength(2);
    expect(r.data[0]?.embedding.length).toBeGreaterThan(0);
  });

  it("lists the union of models on online nodes", async () => {
    const ids = [];
    for await (const m of c.openai.models.list()) ids.push(m.id);
    expect(ids.sort()).toEqual(["llama-3.1-8b", "llama-3.2-1b"]);
    const one = await c.openai.models.retrieve("llama-3.2-1b");
    expect(one.id).toBe("llama-3.2-1b");
  });

  it("cancels the engine request when the client aborts mid-stream", async () => {
    const sim = c.fleet.nodes.find((n) => n.spec.id === "n-4090")?.simUrl ?? "";
    const before = await simState(sim);
    const controller = new AbortController();
    const stream = await c.openai.chat.completions.create(
      {
        model: "llama-3.1-8b",
        messages: [{ role: "user", content: "long" }],
        max_tokens: 4000,
        stream: true,
        ignore_eos: true,
      } as never,
      { signal: controller.signal },
    );
    let got = 0;
    try {
      for await (const _ of stream as unknown as AsyncIterable<unknown>) {
        if (++got === 3) controller.abort();
      }
    } catch {
      // the SDK may raise an abort error; either way the stream stops here
    }
    expect(got).toBeGreaterThanOrEqual(3);
    expect(got).toBeLessThan(100);
    await c.waitFor(() => c.cp.nodes.get("n-4090")?.inFlight === 0, 5_000, "slot released");
    let after = await simState(sim);
    for (let i = 0; i < 100 && (after.running > 0 || after.cancelled <= before.cancelled); i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = await simState(sim);
    }
    expect(after.running).toBe(0);
    expect(after.cancelled).toBe(before.cancelled + 1);
  });
});

describe("bad input gets OpenAI-shaped errors and the server keeps serving", () => {
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${c.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${c.apiKey}`, ...headers },
      body,
    });
  const shape = async (r: Response) => {
    const j = (await r.json()) as {
      error: { message: string; type: string; param: string | null; code: string };
    };
    expect(typeof j.error.message).toBe("string");
    expect(typeof j.error.type).toBe("string");
    expect("param" in j.error).toBe(true);
    expect(r.headers.get("x-request-id")).toBeTruthy();
    return j.error;
  };
  const chat = (extra: Record<string, unknown>) =>
    JSON.stringify({ model: "llama-3.1-8b", messages: [{ role: "user", content: "hi" }], ...extra });

  it.each([
    ["malformed JSON", 400, "{not json"],
    ["missing messages", 400, JSON.stringify({ model: "llama-3.1-8b" })],
    ["empty messages", 400, chat({ messages: [] })],
    ["wrong-typed max_tokens", 400, chat({ max_tokens: "12" })],
    ["negative max_tokens", 400, chat({ max_tokens: -1 })],
    ["bad role", 400, chat({ messages: [{ role: "wizard", content: "x" }] })],
    ["n > 1", 400, chat({ n: 3 })],
    ["temperature out of range", 400, chat({ temperature: 9 })],
    ["array body", 400, "[]"],
  ])("%s → %i", async (_name, status, body) => {
    const r = await post("/v1/chat/completions", body);
    expect(r.status).toBe(status);
    expect((await shape(r)).type).toBe("invalid_request_error");
  });

  it("oversized body → 413", async () => {
    const big = chat({ messages: [{ role: "user", content: "x".repeat(5 * 1024 * 1024) }] });
    const r = await post("/v1/chat/completions", big);
    expect(r.status).toBe(413);
    await shape(r);
  });

  it("unknown model → 404 model_not_found", async () => {
    const r = await post("/v1/chat/completions", chat({ model: "gpt-9" }));
    expect(r.status).toBe(404);
    expect((await shape(r)).code).toBe("model_not_found");
  });

  it("missing or wrong key → 401 (the SDK raises AuthenticationError)", async () => {
    const r = await post("/v1/chat/completions", chat({}), { authorization: "" });
    expect(r.status).toBe(401);
    await shape(r);
    const bad = new OpenAI({ apiKey: "sk-wrong", baseURL: `${c.url}/v1`, maxRetries: 0 });
    await expect(
      bad.chat.completions.create({ model: "llama-3.1-8b", messages: [{ role: "user", content: "x" }] }),
    ).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it("unknown strategy header → 400 listing the valid names", async () => {
    const r = await post("/v1/chat/completions", chat({}), { "x-llmlb-strategy": "telepathy" });
    expect(r.status).toBe(400);
    expect((await shape(r)).message).toContain("round_robin");
  });

  it("bad timeout header → 400", async () => {
    const r = await post("/v1/chat/completions", chat({}), { "x-llmlb-timeout-ms": "soon" });
    expect(r.status).toBe(400);
  });

  it("unknown route → 404 OpenAI-shaped", async () => {
    const r = await fetch(`${c.url}/v1/nope`, { headers: { authorization: `Bearer ${c.apiKey}` } });
    expect(r.status).toBe(404);
    await shape(r);
  });

  it("still serves after all of that", async () => {
    const r = await c.openai.chat.completions.create({
      model: "llama-3.2-1b",
      messages: [{ role: "user", content: "ok?" }],
      max_tokens: 4,
    });
    expect(r.choices[0]?.message.content?.length).toBeGreaterThan(0);
  });
});
