import OpenAI from "openai";
import type {
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
} from "openai/resources/chat/completions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, simControl, startCluster } from "../helpers/cluster.js";

// Two nodes serving one model. A node lost before a job's first token must cost the client
// nothing (re-queued at the head, run elsewhere); after the first token the client gets a clean
// error, never a hang. Draining a node under load costs nothing at all.
const MODEL = "llama-3.2-1b";
let c: Cluster;

beforeAll(async () => {
  c = await startCluster({
    nodes: [
      { id: "fo-a", profile: "rtx3080", model: MODEL, seed: 7, maxConcurrency: 2 },
      { id: "fo-b", profile: "rtx3080", model: MODEL, seed: 8, maxConcurrency: 2 },
    ],
    timeScale: 1,
    heartbeatSecs: 1,
    flags: { strategy: "least_connections" },
  });
}, 60_000);

afterAll(async () => {
  await c?.stop();
});

type Outcome =
  | { kind: "ok"; node: string | null }
  | { kind: "clean_error"; code: unknown; afterFirstChunk: boolean }
  | { kind: "hung" };

const body = (maxTokens: number) =>
  ({
    model: MODEL,
    messages: [{ role: "user", content: "Failover please" }],
    max_tokens: maxTokens,
    ignore_eos: true,
  }) as ChatCompletionCreateParamsNonStreaming;

/** One request, streamed or not, with a hang guard; never throws. */
async function request(stream: boolean, maxTokens: number): Promise<Outcome> {
  const run = async (): Promise<Outcome> => {
    let chunks = 0;
    try {
      if (!stream) {
        const { response } = await c.openai.chat.completions.create(body(maxTokens)).withResponse();
        return { kind: "ok", node: response.headers.get("x-llmlb-node") };
      }
      const s = await c.openai.chat.completions.create({
        ...body(maxTokens),
        stream: true,
      } as unknown as ChatCompletionCreateParamsStreaming);
      for await (const _ of s) chunks++;
      return { kind: "ok", node: null };
    } catch (e) {
      const code = e instanceof OpenAI.APIError ? (e.code ?? e.status) : String(e);
      return { kind: "clean_error", code, afterFirstChunk: chunks > 0 };
    }
  };
  let guard: NodeJS.Timeout | undefined;
  const hung = new Promise<Outcome>((r) => {
    guard = setTimeout(() => r({ kind: "hung" }), 40_000);
  });
  try {
    return await Promise.race([run(), hung]);
  } finally {
    clearTimeout(guard);
  }
}

async function counter(name: "retries" | "requests"): Promise<number> {
  const m = await c.cp.metrics[name].get();
  return m.values.reduce((a, v) => a + v.value, 0);
}

describe("failover with real agents and sims", () => {
  it("loses no pre-first-token request when an agent is SIGKILLed mid-load", async () => {
    const a = c.fleet.nodes.find((n) => n.spec.id === "fo-a");
    if (!a) throw new Error("node fo-a missing");
    const retriesBefore = await counter("retries");
    // fo-a holds every request it gets without a token: all of them are pre-first-token when it dies.
    await simControl(a.simUrl, { stall: true });
    const outcomes = Array.from({ length: 16 }, (_, i) => request(i % 2 === 0, 64));
    await c.waitFor(() => (c.cp.nodes.get("fo-a")?.inFlight ?? 0) >= 2, 10_000, "jobs held on fo-a");
    a.agent.kill("SIGKILL");
    const results = await Promise.all(outcomes);
    expect(results.filter((r) => r.kind === "hung")).toEqual([]);
    // Nothing had started on fo-a, so every request must have succeeded (on fo-b).
    expect(results.filter((r) => r.kind !== "ok")).toEqual([]);
    for (const r of results) if (r.kind === "ok" && r.node) expect(r.node).toBe("fo-b");
    expect(await counter("retries")).toBeGreaterThan(retriesBefore);
    expect(c.cp.scheduler.activeJobs).toBe(0);

    await simControl(a.simUrl, { stall: false });
    c.fleet.restartAgent("fo-a");
    await c.waitOnline(["fo-a"], 30_000);
  }, 60_000);

  it("ends started requests cleanly and retries unstarted ones when an agent dies mid-stream", async () => {
    const a = c.fleet.nodes.find((n) => n.spec.id === "fo-a");
    if (!a) throw new Error("node fo-a missing");
    const outcomes = Array.from({ length: 12 }, (_, i) => request(i % 3 !== 0, 300));
    // Wait until fo-a is streaming tokens, then kill it without warning.
    await c.waitFor(() => (c.cp.nodes.get("fo-a")?.inFlight ?? 0) >= 1, 10_000, "jobs on fo-a");
    await new Promise((r) => setTimeout(r, 300));
    a.agent.kill("SIGKILL");
    const results = await Promise.all(outcomes);
    expect(results.filter((r) => r.kind === "hung")).toEqual([]);
    for (const r of results) {
      if (r.kind === "clean_error") {
        // Only a request that had already started may fail, and then with node_lost.
        expect(r.code).toBe("node_lost");
      }
    }
    expect(results.some((r) => r.kind === "ok")).toBe(true);
    expect(c.cp.scheduler.activeJobs).toBe(0);
    c.fleet.restartAgent("fo-a");
    await c.waitOnline(["fo-a"], 30_000);
  }, 60_000);

  it("drains a node under load with zero errors; the other node takes over", async () => {
    const outcomes = Array.from({ length: 16 }, (_, i) => request(i % 2 === 0, 96));
    await c.waitFor(() => (c.cp.nodes.get("fo-a")?.inFlight ?? 0) >= 1, 10_000, "jobs on fo-a");
    c.cp.sessions.get("fo-a")?.drain("test drain");
    const results = await Promise.all(outcomes);
    expect(results.filter((r) => r.kind !== "ok")).toEqual([]);
    // New work goes to the node that is not draining.
    const after = await Promise.all(Array.from({ length: 4 }, () => request(false, 8)));
    for (const r of after) expect(r).toEqual({ kind: "ok", node: "fo-b" });
    expect(c.cp.scheduler.activeJobs).toBe(0);
  }, 60_000);
});
