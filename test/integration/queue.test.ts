import OpenAI from "openai";
import type {
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
} from "openai/resources/chat/completions";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, simControl, simState, startCluster } from "../helpers/cluster.js";

// One node with a single slot and one waiting request per user: admission, deadlines and
// cancellation through real agent and sim processes. A stalled sim holds a request without tokens,
// so "the slot is busy" is a state, not a race.
const MODEL = "llama-3.2-1b";
let c: Cluster;
let simUrl: string;

beforeAll(async () => {
  c = await startCluster({
    nodes: [{ id: "q-1", profile: "rtx3080", model: MODEL, seed: 3, maxConcurrency: 1 }],
    timeScale: 1,
    flags: { queueMaxPerUser: 1 },
  });
  simUrl = c.fleet.nodes[0]?.simUrl ?? "";
}, 60_000);

afterAll(async () => {
  await c?.stop();
});

afterEach(async () => {
  await simControl(simUrl, { stall: false });
  // A cancelled job's slot stays taken until the node confirms the abort: wait for that too.
  await c.waitFor(() => c.cp.scheduler.activeJobs === 0 && inFlight() === 0, 20_000, "all jobs ended");
});

function chat(maxTokens: number): ChatCompletionCreateParamsNonStreaming {
  return {
    model: MODEL,
    messages: [{ role: "user", content: "Tell me a long story" }],
    max_tokens: maxTokens,
    ignore_eos: true,
  } as ChatCompletionCreateParamsNonStreaming;
}

const queued = () => c.cp.scheduler.queueSnapshot().total;
const inFlight = () => c.cp.nodes.get("q-1")?.inFlight ?? -1;

/** Occupies the node's only slot with a request the stalled sim holds; abort it to free the slot. */
async function occupySlot(): Promise<{ abort: () => void; done: Promise<unknown> }> {
  await simControl(simUrl, { stall: true });
  const ac = new AbortController();
  const done = c.openai.chat.completions.create(chat(4), { signal: ac.signal }).catch((e: unknown) => e);
  await c.waitFor(() => inFlight() === 1 && queued() === 0, 10_000, "the slot to be taken");
  return { abort: () => ac.abort(), done };
}

describe("fair queue admission, deadlines and cancellation (real agent + sim)", () => {
  it("answers 429 with Retry-After, OpenAI-shaped, when the user's queue is full", async () => {
    const hold = await occupySlot();
    const waiting = new AbortController();
    const second = c.openai.chat.completions
      .create(chat(4), { signal: waiting.signal })
      .catch((e: unknown) => e);
    await c.waitFor(() => queued() === 1, 10_000, "the second request to queue");

    const res = await fetch(`${c.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${c.apiKey}` },
      body: JSON.stringify(chat(4)),
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const body = (await res.json()) as { error: { type: string; code: string; message: string } };
    expect(body.error.type).toBe("rate_limit_error");
    expect(body.error.code).toBe("user_queue_full");
    expect(body.error.message).toMatch(/retry/i);

    // The SDK sees the same thing as a RateLimitError.
    const err = await c.openai.chat.completions.create(chat(4)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(queued()).toBe(1);

    waiting.abort();
    hold.abort();
    await Promise.all([second, hold.done]);
  });

  it("answers 504 when the deadline passes while queued, and the entry leaves the queue", async () => {
    const hold = await occupySlot();
    const err = await c.openai.chat.completions
      .create(chat(4), { headers: { "x-llmlb-timeout-ms": "300" } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe("deadline_exceeded");
    expect(queued()).toBe(0);
    // The running job was untouched.
    expect(inFlight()).toBe(1);
    hold.abort();
    await hold.done;
  });

  it("answers 504 when the deadline passes while running, and the engine stops the request", async () => {
    const before = await simState(simUrl);
    const pending = c.openai.chat.completions
      .create(chat(20_000), { headers: { "x-llmlb-timeout-ms": "1500" } })
      .catch((e: unknown) => e);
    await c.waitFor(() => inFlight() === 1, 10_000, "dispatch");
    // The engine really runs it before the deadline (hang guard only, no timing assertion).
    const deadline = Date.now() + 10_000;
    while ((await simState(simUrl)).running === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    const err = await pending;
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
    await waitSim((s) => s.running === 0 && s.cancelled > before.cancelled, "the sim to drop the request");
    await c.waitFor(() => inFlight() === 0, 10_000, "the slot to be freed");
  });

  it("drops a queued request at once when its client disconnects", async () => {
    const hold = await occupySlot();
    const ac = new AbortController();
    const pending = c.openai.chat.completions.create(chat(4), { signal: ac.signal }).catch((e: unknown) => e);
    await c.waitFor(() => queued() === 1, 10_000, "the request to queue");
    ac.abort();
    expect(await pending).toBeInstanceOf(OpenAI.APIUserAbortError);
    await c.waitFor(() => queued() === 0, 5_000, "the queue to empty");
    expect(c.cp.scheduler.activeJobs).toBe(1);
    hold.abort();
    await hold.done;
  });

  it("cancels a streaming request on the node when its client disconnects", async () => {
    const before = await simState(simUrl);
    const ac = new AbortController();
    const stream = await c.openai.chat.completions.create(
      { ...chat(20_000), stream: true } as unknown as ChatCompletionCreateParamsStreaming,
      { signal: ac.signal },
    );
    let chunks = 0;
    try {
      for await (const _ of stream) {
        if (++chunks >= 3) ac.abort();
      }
    } catch (e) {
      expect(e).toBeInstanceOf(OpenAI.APIUserAbortError);
    }
    expect(chunks).toBeGreaterThanOrEqual(3);
    await waitSim((s) => s.running === 0 && s.cancelled > before.cancelled, "the sim to drop the stream");
    await c.waitFor(
      () => inFlight() === 0 && c.cp.scheduler.activeJobs === 0,
      10_000,
      "the slot to be freed",
    );
  });

  it("gives a cancelled stream's slot to the next queued request without the node turning it away", async () => {
    // Regression: the slot used to be freed when the cancel was sent, before the agent had aborted
    // the engine request, so the next job was rejected as "node is full", barred from the node,
    // and waited for its deadline.
    const retries = async () => (await c.cp.metrics.retries.get()).values.reduce((a, v) => a + v.value, 0);
    const retriesBefore = await retries();
    const ac = new AbortController();
    const stream = await c.openai.chat.completions.create(
      { ...chat(20_000), stream: true } as unknown as ChatCompletionCreateParamsStreaming,
      { signal: ac.signal },
    );
    const next = c.openai.chat.completions.create(chat(4), { headers: { "x-llmlb-timeout-ms": "20000" } });
    await c.waitFor(() => queued() === 1, 10_000, "the next request to queue");
    let chunks = 0;
    try {
      for await (const _ of stream) {
        if (++chunks >= 3) ac.abort();
      }
    } catch {
      // aborted by us
    }
    const res = await next;
    expect(res.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(await retries()).toBe(retriesBefore);
  });

  it("serves a queued request once the slot frees (nothing leaks)", async () => {
    const hold = await occupySlot();
    const next = c.openai.chat.completions.create(chat(4));
    await c.waitFor(() => queued() === 1, 10_000, "the request to queue");
    hold.abort();
    await hold.done;
    await simControl(simUrl, { stall: false });
    const res = await next;
    expect(res.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(queued()).toBe(0);
  });
});

async function waitSim(
  cond: (s: Awaited<ReturnType<typeof simState>>) => boolean,
  what: string,
): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const s = await simState(simUrl);
    if (cond(s)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
