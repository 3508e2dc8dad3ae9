import { afterEach, describe, expect, it } from "vitest";
import type { RunningSim, SimOptions } from "../../../src/sim/index.js";
import { startSim } from "../../../src/sim/index.js";
import type { Completion } from "./helpers.js";
import { chat, postJson, simState, waitFor } from "./helpers.js";

const sims: RunningSim[] = [];
async function start(opts: SimOptions): Promise<RunningSim> {
  const sim = await startSim(opts);
  sims.push(sim);
  return sim;
}
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

/** Sends a request and drains its answer in the background; settles when it ends or the sim closes. */
function background(url: string, body: unknown): Promise<void> {
  return postJson(url, body).then(
    (res) =>
      res.arrayBuffer().then(
        () => undefined,
        () => undefined,
      ),
    () => undefined,
  );
}

describe("determinism", () => {
  it("gives the same text and length for the same seed and prompt, other text for another seed", async () => {
    const a = await start({ profile: "h100", model: "llama-3.2-1b", seed: 42, timeScale: 1000 });
    const b = await start({ profile: "l4", model: "llama-3.2-1b", seed: 42, timeScale: 1000 });
    const c = await start({ profile: "h100", model: "llama-3.2-1b", seed: 43, timeScale: 1000 });
    const ask = async (sim: RunningSim, content: string) =>
      (await (
        await postJson(`${sim.url}/v1/chat/completions`, chat(content, { max_tokens: 200 }))
      ).json()) as Completion;
    const prompts = ["What is a GPU?", "Explain prefix caching.", "Hello"];
    const texts: string[] = [];
    for (const p of prompts) {
      const [ra, rb, rc] = await Promise.all([ask(a, p), ask(b, p), ask(c, p)]);
      expect(rb.choices[0].message.content).toBe(ra.choices[0].message.content);
      expect(rb.usage.completion_tokens).toBe(ra.usage.completion_tokens);
      expect(rb.choices[0].finish_reason).toBe(ra.choices[0].finish_reason);
      texts.push(ra.choices[0].message.content, rc.choices[0].message.content);
    }
    // Another seed changes the answers.
    expect(texts.filter((_, i) => i % 2 === 0)).not.toEqual(texts.filter((_, i) => i % 2 === 1));
    // A request seed changes the answer too, reproducibly.
    const s1 = (await (
      await postJson(`${a.url}/v1/chat/completions`, chat("Hello", { seed: 7 }))
    ).json()) as Completion;
    const s2 = (await (
      await postJson(`${b.url}/v1/chat/completions`, chat("Hello", { seed: 7 }))
    ).json()) as Completion;
    expect(s1.choices[0].message.content).toBe(s2.choices[0].message.content);
  });
});

describe("admission", () => {
  it("queues requests when the KV cache is full", async () => {
    // L4 + 8B holds about 31k KV tokens: four 7000-token prompts fit, the fifth must wait.
    const sim = await start({ profile: "l4", model: "llama-3.1-8b", timeScale: 200 });
    const prompt = "z".repeat(7000 * 4 - 200);
    const body = chat(prompt, { max_tokens: 1000, ignore_eos: true, stream: true });
    const pending = Array.from({ length: 5 }, (_, i) =>
      background(`${sim.url}/v1/chat/completions`, {
        ...body,
        messages: [{ role: "user", content: `${i}${prompt}` }],
      }),
    );
    // Once the admitted prompts are prefilled the cache is nearly full and the fifth still waits.
    await waitFor(async () => {
      const s = await simState(sim.url);
      return s.waiting > 0 && s.kv_cache_usage > 0.85;
    });
    const s = await simState(sim.url);
    expect(s.running + s.waiting).toBe(5);
    expect(s.running).toBeLessThan(5);
    const metrics = await (await fetch(`${sim.url}/metrics`)).text();
    expect(metrics).toMatch(/^vllm:num_requests_waiting\{[^}]*\} [1-9]/m);
    await sim.close();
    await Promise.all(pending);
  });

  it("caps the batch at maxNumSeqs", async () => {
    const sim = await start({ profile: "h100", model: "llama-3.2-1b", timeScale: 10, maxNumSeqs: 2 });
    const pending = Array.from({ length: 5 }, (_, i) =>
      background(
        `${sim.url}/v1/chat/completions`,
        chat(`req ${i}`, { max_tokens: 5000, ignore_eos: true, stream: true }),
      ),
    );
    await waitFor(async () => {
      const s = await simState(sim.url);
      return s.running + s.waiting === 5;
    });
    const s = await simState(sim.url);
    expect(s.running).toBe(2);
    expect(s.waiting).toBe(3);
    await sim.close();
    await Promise.all(pending);
  });
});

describe("prefix caching", () => {
  it("hits on a repeated long prompt and skips its prefill", async () => {
    const sim = await start({ profile: "rtx4090", model: "llama-3.1-8b", timeScale: 1000 });
    const system = "You are a helpful assistant. ".repeat(150); // ~1100 tokens shared
    const ask = async (question: string) =>
      (await (
        await postJson(`${sim.url}/v1/chat/completions`, {
          messages: [
            { role: "system", content: system },
            { role: "user", content: question },
          ],
          max_tokens: 4,
        })
      ).json()) as Completion;
    const first = await ask("first question");
    expect(first.usage.prompt_tokens_details.cached_tokens).toBe(0);
    const before = await simState(sim.url);
    expect(before.prefix_cache_hits).toBe(0);
    expect(before.prefix_cache_queries).toBe(first.usage.prompt_tokens);

    const again = await ask("first question");
    const cached = again.usage.prompt_tokens_details.cached_tokens as number;
    expect(cached).toBeGreaterThan(0.9 * again.usage.prompt_tokens);
    expect(cached % 16).toBe(0);
    expect(cached).toBeLessThan(again.usage.prompt_tokens); // the last token is always recomputed

    const other = await ask("a different question");
    const partial = other.usage.prompt_tokens_details.cached_tokens as number;
    expect(partial).toBeGreaterThan(1000);
    expect(partial).toBeLessThan(cached + 16);

    const after = await simState(sim.url);
    expect(after.prefix_cache_hits).toBe(cached + partial);
    expect(after.prefix_cache_queries).toBe(
      first.usage.prompt_tokens + again.usage.prompt_tokens + other.usage.prompt_tokens,
    );
    const metrics = await (await fetch(`${sim.url}/metrics`)).text();
    expect(metrics).toContain(
      `vllm:prefix_cache_hits_total{engine="0",model_name="llama-3.1-8b"} ${cached + partial}.0`,
    );
  });
});

describe("cancellation", () => {
  it("drops a streamed sequence from the batch and frees its KV blocks when the client goes away", async () => {
    const sim = await start({ profile: "rtx4090", model: "llama-3.2-1b", timeScale: 20 });
    const ac = new AbortController();
    const res = await postJson(
      `${sim.url}/v1/chat/completions`,
      chat("x".repeat(4000), { max_tokens: 10_000, ignore_eos: true, stream: true }),
      ac.signal,
    );
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read(); // the first token arrived: the sequence is running
    const during = await simState(sim.url);
    expect(during.running).toBe(1);
    expect(during.kv_cache_usage).toBeGreaterThan(0);
    ac.abort();
    await waitFor(async () => (await simState(sim.url)).running === 0);
    const after = await simState(sim.url);
    expect(after.cancelled).toBe(1);
    expect(after.completed).toBe(0);
    expect(after.kv_cache_usage).toBe(0);
  });

  it("drops a non-streamed sequence too", async () => {
    const sim = await start({ profile: "rtx4090", model: "llama-3.2-1b", timeScale: 20 });
    const ac = new AbortController();
    const req = postJson(
      `${sim.url}/v1/chat/completions`,
      chat("long", { max_tokens: 10_000, ignore_eos: true }),
      ac.signal,
    );
    await waitFor(async () => (await simState(sim.url)).running === 1);
    ac.abort();
    await expect(req).rejects.toThrow();
    await waitFor(async () => (await simState(sim.url)).running === 0);
    expect((await simState(sim.url)).cancelled).toBe(1);
  });
});

describe("load", () => {
  it("batches many concurrent requests and reports the GPU busy", async () => {
    const sim = await start({ profile: "a100-80g", model: "llama-3.1-8b", timeScale: 10 });
    const results = await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const res = await postJson(`${sim.url}/v1/completions`, {
          prompt: `request number ${i}`,
          max_tokens: 64,
          ignore_eos: true,
        });
        return (await res.json()) as Completion;
      }),
    );
    expect(results.every((r) => r.usage.completion_tokens === 64)).toBe(true);
    const s = await simState(sim.url);
    expect(s.completed).toBe(24);
    expect(s.running + s.waiting).toBe(0);
    // Batched: far fewer steps than 24 × 64 tokens.
    expect((s as unknown as { steps: number }).steps).toBeLessThan((24 * 64) / 4);
    const gpu = (await (await fetch(`${sim.url}/sim/gpu`)).json()) as {
      gpus: { utilization_percent: number; power_watts: number }[];
    };
    expect(gpu.gpus[0]?.utilization_percent).toBeGreaterThan(0);
    expect(gpu.gpus[0]?.power_watts).toBeGreaterThan(60);
  });
});
