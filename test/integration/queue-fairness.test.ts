import type { ChatCompletionCreateParamsNonStreaming } from "openai/resources/chat/completions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, startCluster } from "../helpers/cluster.js";

// A saturated one-slot node, a heavy user with a long backlog and a light user with one request:
// round robin across users means the light user waits about one job, not the whole backlog.
// The assertion is on completion order, never on wall-clock time.
const MODEL = "llama-3.2-1b";
let c: Cluster;

beforeAll(async () => {
  c = await startCluster({
    nodes: [{ id: "f-1", profile: "rtx3080", model: MODEL, seed: 5, maxConcurrency: 1 }],
    timeScale: 1,
    users: 2,
    flags: { queuePolicy: "round_robin" },
  });
}, 60_000);

afterAll(async () => {
  await c?.stop();
});

const chat = (maxTokens: number) =>
  ({
    model: MODEL,
    messages: [{ role: "user", content: "Count to a hundred" }],
    max_tokens: maxTokens,
    ignore_eos: true,
  }) as ChatCompletionCreateParamsNonStreaming;

describe("fair queue across users (real agent + sim)", () => {
  it("serves a light user's request within about one job while a heavy user's backlog waits", async () => {
    const [heavy, light] = c.users;
    if (!heavy || !light) throw new Error("cluster users missing");
    const order: string[] = [];
    const heavyDone = Array.from({ length: 12 }, (_, i) =>
      heavy.openai.chat.completions.create(chat(48)).then(() => order.push(`heavy-${i}`)),
    );
    // The backlog is real: one running, the rest waiting for the single slot.
    await c.waitFor(() => c.cp.scheduler.queueSnapshot().total >= 10, 10_000, "the heavy backlog");
    const heavyBefore = order.length;
    await light.openai.chat.completions.create(chat(48));
    order.push("light");
    const heavyServedMeanwhile = order.length - 1 - heavyBefore;
    // The job running when the light request arrived, plus at most one already chosen next.
    expect(heavyServedMeanwhile).toBeLessThanOrEqual(2);
    await Promise.all(heavyDone);
    expect(order.filter((x) => x.startsWith("heavy"))).toHaveLength(12);
    // Both users appear as separate fair-queue users while they wait.
    expect(c.cp.scheduler.queueSnapshot().total).toBe(0);
  });

  it("reports depth per user while requests wait", async () => {
    const [heavy, light] = c.users;
    if (!heavy || !light) throw new Error("cluster users missing");
    const all = [
      ...Array.from({ length: 4 }, () => heavy.openai.chat.completions.create(chat(32))),
      ...Array.from({ length: 2 }, () => light.openai.chat.completions.create(chat(32))),
    ];
    await c.waitFor(() => c.cp.scheduler.queueSnapshot().users.length === 2, 10_000, "two waiting users");
    const snap = c.cp.scheduler.queueSnapshot();
    const depth = Object.fromEntries(snap.users.map((u) => [u.userId, u.depth]));
    expect((depth[heavy.userId] ?? 0) + (depth[light.userId] ?? 0)).toBe(snap.total);
    expect(snap.users.every((u) => u.byModel[MODEL] === u.depth)).toBe(true);
    await Promise.all(all);
  });
});
