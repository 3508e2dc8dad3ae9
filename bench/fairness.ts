import type OpenAI from "openai";
import type { ChatCompletionCreateParamsStreaming } from "openai/resources/chat/completions";
import { jainIndex } from "../src/queue/index.js";
// The control plane runs in-process (as in the integration tests) so the benchmark can create one
// stored user and key per simulated tenant; sims and agents are real processes.
import { type Cluster, startCluster } from "../test/helpers/cluster.js";
import { printTable, writeJson } from "./lib/report.js";

/**
 * Fairness of the per-user queue on a small saturated fleet: one heavy user with 64 requests in
 * flight against light users with one at a time (round_robin vs vtc), then a chaos run in which
 * agents are SIGKILLed and restarted at random while the load goes on.
 */
export async function runFairnessBench(o: { out?: string; quick?: boolean }): Promise<object> {
  const loadMs = o.quick ? 10_000 : 30_000;
  const chaosMs = o.quick ? 15_000 : 60_000;
  const policies: Awaited<ReturnType<typeof fairnessRun>>[] = [];
  const rows: Record<string, string | number>[] = [];
  for (const policy of ["round_robin", "vtc"] as const) {
    const r = await fairnessRun(policy, loadMs);
    policies.push(r);
    rows.push({
      policy,
      jain: r.jain,
      target: policy === "vtc" ? 0.99 : 0.95,
      heavy_tokens: r.tokens.heavy,
      light_tokens_mean: r.tokens.lightMean,
      light_wait_p50_ms: r.lightWait.p50,
      light_wait_p99_ms: r.lightWait.p99,
      idle_wait_p50_ms: r.idleWait.p50,
      idle_wait_p99_ms: r.idleWait.p99,
      avg_job_ms: r.avgJobMs,
      p99_le_job: r.lightWait.p99 <= r.avgJobMs ? "yes" : "NO",
    });
  }
  printTable(
    `Fairness: 1 heavy user (64 in flight) vs ${LIGHT_USERS} light users (1 in flight), ${SLOTS} slots, ${loadMs / 1000} s`,
    rows,
  );
  const chaos = await chaosRun(chaosMs);
  printTable(`Chaos: agents SIGKILLed and restarted at random for ${chaosMs / 1000} s`, [chaos]);
  const result = {
    setup: {
      nodes: NODES,
      lightUsers: LIGHT_USERS,
      heavyInFlight: HEAVY_IN_FLIGHT,
      maxTokens: MAX_TOKENS,
      loadMs,
      chaosMs,
    },
    policies,
    chaos,
  };
  writeJson(o.out ?? "bench/results/fairness.json", result);
  return result;
}

const MODEL = "llama-3.2-1b";
const LIGHT_USERS = 4;
const HEAVY_IN_FLIGHT = 64;
const MAX_TOKENS = 48;
const NODES = [
  { id: "fair-a", profile: "rtx3080", model: MODEL, seed: 11, maxConcurrency: 2 },
  { id: "fair-b", profile: "rtx3080", model: MODEL, seed: 12, maxConcurrency: 2 },
];
const SLOTS = NODES.reduce((a, n) => a + n.maxConcurrency, 0);
// A request with no answer after this long counts as hung (the server's own deadline is shorter).
const HANG_MS = 45_000;

interface Outcome {
  ok: boolean;
  /** Chunks received before the end. */
  chunks: number;
  tokens: number;
  /** Time to first chunk, ms (queue wait + prefill); NaN if none. */
  ttftMs: number;
  /** First chunk to end, ms. */
  serviceMs: number;
  /** When it ended (performance.now()). */
  endMs: number;
  code?: string;
  hung?: boolean;
}

const body = (): ChatCompletionCreateParamsStreaming =>
  ({
    model: MODEL,
    messages: [{ role: "user", content: "Write a short paragraph" }],
    max_tokens: MAX_TOKENS,
    ignore_eos: true,
    stream: true,
    stream_options: { include_usage: true },
  }) as ChatCompletionCreateParamsStreaming;

/** One streamed request; never throws. */
async function send(client: OpenAI): Promise<Outcome> {
  const t0 = performance.now();
  let first = Number.NaN;
  let chunks = 0;
  let tokens = 0;
  const ac = new AbortController();
  const guard = setTimeout(() => ac.abort(), HANG_MS);
  try {
    const stream = await client.chat.completions.create(body(), {
      signal: ac.signal,
      timeout: HANG_MS + 5_000,
    });
    for await (const chunk of stream) {
      if (chunks++ === 0) first = performance.now();
      if (chunk.usage) tokens = chunk.usage.prompt_tokens + chunk.usage.completion_tokens;
    }
    return {
      ok: true,
      chunks,
      tokens,
      ttftMs: first - t0,
      serviceMs: performance.now() - first,
      endMs: performance.now(),
    };
  } catch (e) {
    const err = e as { code?: string; status?: number; name?: string };
    if (ac.signal.aborted)
      return {
        ok: false,
        chunks,
        tokens,
        ttftMs: first - t0,
        serviceMs: 0,
        endMs: performance.now(),
        hung: true,
        code: "hung",
      };
    return {
      ok: false,
      chunks,
      tokens,
      ttftMs: first - t0,
      serviceMs: 0,
      endMs: performance.now(),
      code: String(err.code ?? err.status ?? err.name),
    };
  } finally {
    clearTimeout(guard);
  }
}

/** `n` workers per client send back to back until `endAt`. */
async function closedLoop(
  client: OpenAI,
  n: number,
  endAt: number,
  sink: Outcome[],
  until: () => number = () => endAt,
): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (performance.now() < until()) sink.push(await send(client));
    }),
  );
}

function pct(xs: number[], p: number): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return 0;
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? 0;
}

async function cluster(policy: string, flags: Record<string, unknown> = {}): Promise<Cluster> {
  return startCluster({
    nodes: NODES,
    timeScale: 1,
    heartbeatSecs: 1,
    users: LIGHT_USERS + 1,
    flags: { queuePolicy: policy, strategy: "least_connections", ...flags },
  });
}

async function fairnessRun(policy: string, loadMs: number) {
  const c = await cluster(policy);
  try {
    const [heavy, ...lights] = c.users;
    if (!heavy) throw new Error("no users");
    // Idle fleet: the light users alone, for the baseline of their wait.
    const idle: Outcome[] = [];
    await Promise.all(
      lights.map((u) => closedLoop(u.openai, 1, performance.now() + Math.min(4_000, loadMs / 2), idle)),
    );
    const idleTtft = idle.filter((x) => x.ok).map((x) => x.ttftMs);
    const idleBase = pct(idleTtft, 50);
    // Saturated: the heavy user keeps 64 in flight; counting starts once its backlog is there.
    const heavyOut: Outcome[] = [];
    const lightOut: Outcome[][] = lights.map(() => []);
    let endAt = Number.POSITIVE_INFINITY;
    const heavyLoop = closedLoop(
      heavy.openai,
      HEAVY_IN_FLIGHT,
      Number.POSITIVE_INFINITY,
      heavyOut,
      () => endAt,
    );
    await c
      .waitFor(
        () => c.cp.scheduler.queueSnapshot().total >= HEAVY_IN_FLIGHT - SLOTS - 4,
        30_000,
        "the heavy backlog",
      )
      .catch((e: unknown) => {
        endAt = 0;
        throw e;
      });
    // Served tokens count in one window for everyone: from a second after the light users start
    // until the load stops (requests still running then do not count).
    const windowStart = performance.now() + 1_000;
    endAt = windowStart + loadMs;
    await Promise.all(lights.map((u, i) => closedLoop(u.openai, 1, endAt, lightOut[i] ?? [])));
    await heavyLoop;
    const served = (xs: Outcome[]) =>
      xs.filter((x) => x.ok && x.endMs >= windowStart && x.endMs <= endAt).reduce((a, x) => a + x.tokens, 0);
    const warm = heavyOut.filter((x) => x.endMs < windowStart).length;
    const heavyTokens = served(heavyOut);
    const lightTokens = lightOut.map(served);
    const all = [...heavyOut, ...lightOut.flat()].filter((x) => x.ok);
    const avgJobMs = all.reduce((a, x) => a + x.serviceMs, 0) / Math.max(1, all.length) + idleBase;
    // Queue wait of a light request: its time to first token beyond the idle fleet's median.
    const waits = lightOut
      .flat()
      .filter((x) => x.ok)
      .map((x) => Math.max(0, x.ttftMs - idleBase));
    const idleWaits = idleTtft.map((x) => Math.max(0, x - idleBase));
    const failed = [...heavyOut, ...lightOut.flat()].filter((x) => !x.ok).length;
    return {
      policy,
      jain: jainIndex([heavyTokens, ...lightTokens]),
      tokens: {
        heavy: heavyTokens,
        light: lightTokens,
        lightMean: Math.round(lightTokens.reduce((a, x) => a + x, 0) / lightTokens.length),
      },
      requests: { heavy: heavyOut.length - warm, light: lightOut.map((x) => x.length), failed },
      lightWait: { p50: Math.round(pct(waits, 50)), p99: Math.round(pct(waits, 99)) },
      idleWait: { p50: Math.round(pct(idleWaits, 50)), p99: Math.round(pct(idleWaits, 99)) },
      idleTtftP50Ms: Math.round(idleBase),
      avgJobMs: Math.round(avgJobMs),
    };
  } finally {
    await c.stop();
  }
}

async function chaosRun(durationMs: number) {
  // The server answers every request within its deadline (504 at worst), so "hung" means a bug.
  const c = await cluster("round_robin", { requestTimeoutSecs: 30 });
  try {
    const [heavy, ...lights] = c.users;
    if (!heavy) throw new Error("no users");
    const out: Outcome[] = [];
    const endAt = performance.now() + durationMs;
    const load = Promise.all([
      closedLoop(heavy.openai, 16, endAt, out),
      ...lights.map((u) => closedLoop(u.openai, 1, endAt, out)),
    ]);
    let kills = 0;
    const chaos = (async () => {
      while (performance.now() < endAt - 2_000) {
        await sleep(500 + Math.random() * 1_500);
        // One node down at a time, so a lost job always has somewhere to go.
        const node = c.fleet.nodes[Math.floor(Math.random() * c.fleet.nodes.length)];
        if (!node) continue;
        node.agent.kill("SIGKILL");
        kills++;
        await sleep(300 + Math.random() * 1_200);
        c.fleet.restartAgent(node.spec.id);
        await c.waitOnline([node.spec.id], 30_000).catch(() => undefined);
      }
    })();
    await Promise.all([load, chaos]);
    const failed = out.filter((x) => !x.ok && !x.hung);
    return {
      seconds: durationMs / 1000,
      kills,
      sent: out.length,
      succeeded: out.filter((x) => x.ok).length,
      failed_cleanly: failed.length,
      failed_after_first_token: failed.filter((x) => x.chunks > 0).length,
      lost_pre_first_token: failed.filter(
        (x) => x.chunks === 0 && x.code !== "no_node_available" && x.code !== "503",
      ).length,
      hung: out.filter((x) => x.hung).length,
      codes: [...new Set(failed.map((x) => x.code))].join(" ") || "-",
    };
  } finally {
    await c.stop();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (import.meta.url === `file://${process.argv[1]}`) {
  await runFairnessBench({ quick: process.argv.includes("--quick") });
}
