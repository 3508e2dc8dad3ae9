import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { type Fleet, launchFleet, type SimNodeSpec } from "../src/fleet/launcher.js";
import { startControlPlaneProcess } from "./lib/control-plane-process.js";
import { median, pool, recorder, type StreamOutcome, seeded, streamChat } from "./lib/load.js";
import { hostBusyPct, hostTicks } from "./lib/proc.js";
import { printTable, writeJson } from "./lib/report.js";

/** The heterogeneous fleet of the issue: consumer and datacenter GPUs serving one model. */
const FLEET: SimNodeSpec[] = [
  { id: "rtx3080-a", profile: "rtx3080", model: "llama-3.2-1b", seed: 1, costPerHour: 0.17 },
  { id: "rtx3080-b", profile: "rtx3080", model: "llama-3.2-1b", seed: 2, costPerHour: 0.17 },
  { id: "rtx3090-a", profile: "rtx3090", model: "llama-3.2-1b", seed: 3, costPerHour: 0.22 },
  { id: "rtx3090-b", profile: "rtx3090", model: "llama-3.2-1b", seed: 4, costPerHour: 0.22 },
  { id: "rtx4090-a", profile: "rtx4090", model: "llama-3.2-1b", seed: 5, costPerHour: 0.35 },
  { id: "rtx4090-b", profile: "rtx4090", model: "llama-3.2-1b", seed: 6, costPerHour: 0.35 },
  { id: "a100", profile: "a100-80g", model: "llama-3.2-1b", seed: 7, costPerHour: 1.29 },
];
const MODEL = "llama-3.2-1b";
const WORDS = "the quick brown fox jumps over a lazy dog while GPUs batch tokens in parallel".split(" ");

interface Workload {
  name: string;
  /** Builds request i (deterministic). */
  request(i: number, rnd: () => number): object;
}

function text(chars: number, rnd: () => number): string {
  let s = "";
  while (s.length < chars) s += `${WORDS[Math.floor(rnd() * WORDS.length)]} `;
  return s.slice(0, chars);
}

/** Mixed prompt (≈100–4,000 tokens, log-uniform) and output (16–256 tokens) lengths. */
const mixed: Workload = {
  name: "mixed",
  request(_i, rnd) {
    const promptChars = Math.round(400 * 40 ** rnd());
    const out = Math.round(16 + rnd() * 240);
    return {
      model: MODEL,
      messages: [{ role: "user", content: text(promptChars, rnd) }],
      max_tokens: out,
      ignore_eos: true,
    };
  },
};

/** Distinct system prompts in the shared-prefix variant, and their length in characters (≈ tokens × 4). */
const SYSTEM_PROMPTS = 256;
const SYSTEM_PROMPT_CHARS = 12_000;

/**
 * Many users sharing long system prompts: 256 distinct ones of ≈3,000 tokens (768k tokens in
 * all), each request one of them chosen uniformly plus a short question. The set is larger than
 * the KV cache of every consumer GPU in the fleet (≈170k tokens on an RTX 3080, ≈583k on a
 * 3090/4090 with this model) and smaller than the fleet's (≈4.9M; the A100 alone holds ≈2.2M),
 * the regime where it matters which node a prompt goes to (llm-d's prefix-cache benchmarks use
 * the same shape): sprayed over every node, each consumer GPU must hold the whole set and
 * keeps evicting it; kept together, each node's share fits. (With 8 prompts, as before, every
 * node held every prompt and routing could not matter.)
 */
function sharedPrefix(): Workload {
  const base = seeded(99);
  const systems = Array.from(
    { length: SYSTEM_PROMPTS },
    (_, k) => `System prompt ${k}. ${text(SYSTEM_PROMPT_CHARS, base)}`,
  );
  return {
    name: "shared_prefix",
    request(_i, rnd) {
      const sys = systems[Math.floor(rnd() * systems.length)] ?? "";
      return {
        model: MODEL,
        messages: [
          { role: "system", content: sys },
          { role: "user", content: text(200 + Math.round(rnd() * 400), rnd) },
        ],
        max_tokens: Math.round(16 + rnd() * 112),
        ignore_eos: true,
      };
    },
  };
}

/** One strategy's closed-loop throughput on a workload. */
interface SaturatedResult {
  workload: string;
  strategy: string;
  clients: number;
  rps: number;
  tokens_per_s: number;
  errors: number;
  /** Prompt tokens the engines served from their prefix caches, over all prompt tokens (%). */
  prefix_hit_pct: number;
  /** Requests per node (%), fleet order. */
  share_pct: string;
  host_cpu_pct: number;
}

/** Prefix-cache queries and hits (tokens) summed over the fleet's sims (their /sim/state). */
async function prefixCounters(fleet: Fleet): Promise<{ queries: number; hits: number }> {
  let queries = 0;
  let hits = 0;
  for (const n of fleet.nodes) {
    const st = (await (await fetch(`${n.simUrl}/sim/state`)).json()) as {
      prefix_cache_queries: number;
      prefix_cache_hits: number;
    };
    queries += st.prefix_cache_queries;
    hits += st.prefix_cache_hits;
  }
  return { queries, hits };
}

interface PhaseResult {
  workload: string;
  strategy: string;
  load: string;
  rate_rps: number;
  sent: number;
  ok: number;
  errors: number;
  ttft_p50_ms: number;
  ttft_p99_ms: number;
  e2e_p50_ms: number;
  e2e_p99_ms: number;
  tokens_per_s: number;
  /** Busy share of the host's cores over the phase: near 100 % the host, not the fleet, is measured. */
  host_cpu_pct: number;
}

/** Open-loop Poisson arrivals at `rate` for `durationMs`, each request under `strategy`. */
async function poissonPhase(
  url: string,
  apiKey: string,
  strategy: string,
  workload: Workload,
  rate: number,
  durationMs: number,
  seed: number,
): Promise<{ outcomes: StreamOutcome[]; wallMs: number; hostBusyPct: number }> {
  const p = pool(url);
  const host0 = hostTicks();
  const rnd = seeded(seed);
  const outcomes: StreamOutcome[] = [];
  const inflight: Promise<void>[] = [];
  const headers = { authorization: `Bearer ${apiKey}`, "x-llmlb-strategy": strategy };
  const start = performance.now();
  let next = 0;
  let i = 0;
  while (next < durationMs) {
    const wait = start + next - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const body = workload.request(i++, rnd);
    inflight.push(streamChat(p, headers, body).then((o) => void outcomes.push(o)));
    next += (-Math.log(1 - rnd()) / rate) * 1000;
  }
  await Promise.all(inflight);
  const wallMs = performance.now() - start;
  const hostBusy = hostBusyPct(host0, hostTicks());
  await p.close();
  return { outcomes, wallMs, hostBusyPct: hostBusy };
}

function summarise(
  workload: string,
  strategy: string,
  load: string,
  rate: number,
  r: { outcomes: StreamOutcome[]; wallMs: number; hostBusyPct: number },
): PhaseResult {
  const ttft = recorder();
  const e2e = recorder();
  let ok = 0;
  let tokens = 0;
  for (const o of r.outcomes) {
    if (!o.ok) continue;
    ok++;
    tokens += o.completionTokens;
    if (o.ttftMs !== undefined) ttft.record(o.ttftMs);
    e2e.record(o.e2eMs);
  }
  const t = ttft.percentiles();
  const e = e2e.percentiles();
  ttft.destroy();
  e2e.destroy();
  return {
    workload,
    strategy,
    load,
    rate_rps: Math.round(rate * 100) / 100,
    sent: r.outcomes.length,
    ok,
    errors: r.outcomes.length - ok,
    ttft_p50_ms: t.p50,
    ttft_p99_ms: t.p99,
    e2e_p50_ms: e.p50,
    e2e_p99_ms: e.p99,
    tokens_per_s: Math.round(tokens / (r.wallMs / 1000)),
    host_cpu_pct: r.hostBusyPct,
  };
}

/**
 * The sims run at half real speed. The host's two cores relay every token of every stream (sim →
 * agent → control plane → client, ~20 ms of CPU per mixed request in all): at 5× real speed the
 * host saturated long before the simulated GPUs did, so "80 % load" measured the host's scheduler,
 * not routing. At 0.5 the fleet saturates first, and each phase reports the host's busy share.
 */
const TIME_SCALE = 0.5;

/** Clients kept busy by the closed-loop (saturation) phases. */
const SATURATING_CLIENTS = 96;

/**
 * Closed loop at high concurrency: what the fleet sustains for a workload under one strategy,
 * in requests and generated tokens per second (requests still running at the end do not count).
 */
async function saturate(
  url: string,
  apiKey: string,
  workload: Workload,
  durationMs: number,
  strategy = "least_connections",
): Promise<{
  rps: number;
  tokensPerS: number;
  errors: number;
  byNode: Map<string, number>;
  hostBusyPct: number;
}> {
  const p = pool(url);
  const host0 = hostTicks();
  const rnd = seeded(7);
  const end = performance.now() + durationMs;
  let done = 0;
  let tokens = 0;
  let errors = 0;
  const byNode = new Map<string, number>();
  const headers = { authorization: `Bearer ${apiKey}`, "x-llmlb-strategy": strategy };
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: SATURATING_CLIENTS }, async () => {
      while (performance.now() < end) {
        const o = await streamChat(p, headers, workload.request(0, rnd));
        if (performance.now() > end) break;
        if (o.ok) {
          done++;
          tokens += o.completionTokens;
          if (o.node !== undefined) byNode.set(o.node, (byNode.get(o.node) ?? 0) + 1);
        } else errors++;
      }
    }),
  );
  const hostBusy = hostBusyPct(host0, hostTicks());
  await p.close();
  const secs = Math.min(performance.now(), end) / 1000 - t0 / 1000;
  return { rps: done / secs, tokensPerS: tokens / secs, errors, byNode, hostBusyPct: hostBusy };
}

/** The fleet's saturated request rate for a workload (least_connections). */
async function capacity(
  url: string,
  apiKey: string,
  workload: Workload,
  durationMs: number,
): Promise<{ rps: number; hostBusyPct: number }> {
  return saturate(url, apiKey, workload, durationMs);
}

/**
 * Routing quality on a heterogeneous simulated fleet: each strategy under the same open-loop Poisson
 * load (50 / 80 / 95 % of measured capacity, same seeded request sequence), mixed lengths, and a
 * shared-prefix variant. TTFT and end-to-end times are wall-clock ms at the given time scale.
 *
 * Shared prefixes (sharedPrefix): 256 distinct ≈3,000-token system prompts, more than any consumer
 * GPU's KV cache holds and less than the fleet's, so where a prompt goes decides whether it is a
 * cache hit. It runs open-loop at 130 % of least_connections' capacity (same seeded sequence for
 * every strategy), then saturated: per strategy an unmeasured warm-up of half a phase, then a
 * phase of SATURATING_CLIENTS closed-loop clients, reporting throughput, the engines' prefix-cache
 * hit rate (tokens, from each sim's /sim/state) and each node's share of the requests.
 */
export async function runRoutingBench(o: {
  out?: string;
  quick?: boolean;
  strategies?: string[];
  timeScale?: number;
}): Promise<object> {
  const timeScale = o.timeScale ?? TIME_SCALE;
  const phaseMs = o.quick ? 8_000 : 30_000;
  const strategies = o.strategies ?? ["round_robin", "least_connections", "metrics", "gpu_aware"];
  const apiKey = `sk-bench-${randomBytes(8).toString("hex")}`;
  const nodeToken = `nt-bench-${randomBytes(8).toString("hex")}`;
  const cp = await startControlPlaneProcess({
    LLMLB_API_KEYS: apiKey,
    LLMLB_NODE_TOKENS: nodeToken,
    LLMLB_DB: ":memory:",
    LLMLB_HEARTBEAT_SECS: "0.5",
  });
  let fleet: Fleet | undefined;
  const results: PhaseResult[] = [];
  try {
    fleet = await launchFleet({ serverUrl: cp.url, nodeToken, nodes: FLEET, timeScale, heartbeatSecs: 0.5 });
    await cp.waitForNodes(FLEET.length, 60_000);
    const measured = await capacity(cp.url, apiKey, mixed, o.quick ? 8_000 : 20_000);
    const cap = measured.rps;
    console.log(
      `measured capacity (mixed workload, least_connections, 96 concurrent): ${cap.toFixed(1)} req/s, host CPU ${measured.hostBusyPct}% busy`,
    );
    const loads: [string, number][] = o.quick
      ? [["80%", 0.8]]
      : [
          ["50%", 0.5],
          ["80%", 0.8],
          ["95%", 0.95],
        ];
    for (const [label, frac] of loads) {
      for (const s of strategies) {
        const r = await poissonPhase(cp.url, apiKey, s, mixed, cap * frac, phaseMs, 1234);
        results.push(summarise("mixed", s, label, cap * frac, r));
        console.log(JSON.stringify(results.at(-1)));
      }
    }
    const shared = sharedPrefix();
    const sharedMeasured = await capacity(cp.url, apiKey, shared, o.quick ? 6_000 : 15_000);
    const sharedCap = sharedMeasured.rps;
    console.log(
      `measured capacity (shared prefixes, least_connections): ${sharedCap.toFixed(1)} req/s, host CPU ${sharedMeasured.hostBusyPct}% busy`,
    );
    for (const s of strategies) {
      const r = await poissonPhase(cp.url, apiKey, s, shared, sharedCap * 1.3, phaseMs, 4321);
      results.push(summarise("shared_prefix", s, "130% of LC capacity", sharedCap * 1.3, r));
      console.log(JSON.stringify(results.at(-1)));
    }
    // Throughput is what a strategy sustains when demand exceeds it: an open-loop rate below a
    // strategy's capacity caps what it can show (it serves all that is offered), so each strategy
    // also gets the same closed loop of SATURATING_CLIENTS clients.
    const saturated: SaturatedResult[] = [];
    for (const s of strategies) {
      // Unmeasured warm-up under the same strategy first: the engines' prefix caches still hold
      // what the previous strategy put where, which would otherwise count for (or against) this one.
      await saturate(cp.url, apiKey, shared, phaseMs / 2, s);
      const before = await prefixCounters(fleet);
      const r = await saturate(cp.url, apiKey, shared, phaseMs, s);
      const after = await prefixCounters(fleet);
      const total = [...r.byNode.values()].reduce((a, b) => a + b, 0) || 1;
      saturated.push({
        workload: "shared_prefix",
        strategy: s,
        clients: SATURATING_CLIENTS,
        rps: Math.round(r.rps * 10) / 10,
        tokens_per_s: Math.round(r.tokensPerS),
        errors: r.errors,
        prefix_hit_pct:
          Math.round((1000 * (after.hits - before.hits)) / Math.max(1, after.queries - before.queries)) / 10,
        share_pct: FLEET.map((n) => Math.round((100 * (r.byNode.get(n.id) ?? 0)) / total)).join("/"),
        host_cpu_pct: r.hostBusyPct,
      });
      console.log(JSON.stringify(saturated.at(-1)));
    }
    printTable(
      `Routing quality: ${FLEET.length} simulated nodes (time scale ${timeScale}), ${phaseMs / 1000} s per phase`,
      results as unknown as Record<string, string | number>[],
    );
    const at80 = (s: string) =>
      results.find((r) => r.workload === "mixed" && r.load === "80%" && r.strategy === s);
    printTable(
      `Shared prefixes, saturated: ${SATURATING_CLIENTS} closed-loop clients, ${phaseMs / 1000} s`,
      saturated as unknown as Record<string, string | number>[],
    );
    const sharedOf = (s: string) => saturated.find((r) => r.strategy === s);
    const ratios = {
      ttft_p99_rr_over_gpu_aware_at_80:
        (at80("round_robin")?.ttft_p99_ms ?? 0) / (at80("gpu_aware")?.ttft_p99_ms ?? 1),
      ttft_p99_lc_over_gpu_aware_at_80:
        (at80("least_connections")?.ttft_p99_ms ?? 0) / (at80("gpu_aware")?.ttft_p99_ms ?? 1),
      shared_prefix_throughput_gpu_aware_over_rr:
        (sharedOf("gpu_aware")?.tokens_per_s ?? 0) / (sharedOf("round_robin")?.tokens_per_s ?? 1),
    };
    printTable("Ratios (targets: ≥ 2, ≥ 1.5, ≥ 1.5)", [ratios]);
    const result = {
      timeScale,
      capacity_rps: cap,
      capacity_host_cpu_pct: measured.hostBusyPct,
      shared_capacity_rps: sharedCap,
      shared_capacity_host_cpu_pct: sharedMeasured.hostBusyPct,
      results,
      saturated,
      ratios,
      medianTtftP99: median(results.map((r) => r.ttft_p99_ms)),
    };
    writeJson(o.out ?? "bench/results/routing.json", result);
    writeFileSync((o.out ?? "bench/results/routing.json").replace(/\.json$/, ".svg"), svgChart(results));
    return result;
  } finally {
    await fleet?.stop();
    await cp.stop();
  }
}

/** A small grouped bar chart of TTFT p99 per strategy and load, as SVG for the README. */
function svgChart(results: PhaseResult[]): string {
  const rows = results.filter((r) => r.workload === "mixed");
  const loads = [...new Set(rows.map((r) => r.load))];
  const strategies = [...new Set(rows.map((r) => r.strategy))];
  const max = Math.max(1, ...rows.map((r) => r.ttft_p99_ms));
  const colors = ["#8c8c8c", "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1"];
  const W = 640;
  const H = 300;
  const groupW = (W - 80) / Math.max(1, loads.length);
  const barW = (groupW - 20) / Math.max(1, strategies.length);
  let bars = "";
  loads.forEach((load, li) => {
    strategies.forEach((s, si) => {
      const r = rows.find((x) => x.load === load && x.strategy === s);
      if (!r) return;
      const h = (r.ttft_p99_ms / max) * (H - 80);
      const x = 60 + li * groupW + si * barW;
      bars += `<rect x="${x.toFixed(1)}" y="${(H - 40 - h).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${colors[si % colors.length]}"><title>${s} @ ${load}: ${r.ttft_p99_ms.toFixed(0)} ms</title></rect>`;
    });
    bars += `<text x="${(60 + li * groupW + groupW / 2 - 10).toFixed(1)}" y="${H - 20}" font-size="12">${load} load</text>`;
  });
  const legend = strategies
    .map(
      (s, si) =>
        `<rect x="${70 + si * 130}" y="10" width="10" height="10" fill="${colors[si % colors.length]}"/><text x="${84 + si * 130}" y="19" font-size="12">${s}</text>`,
    )
    .join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif"><text x="10" y="${H / 2}" font-size="12" transform="rotate(-90 10 ${H / 2})">TTFT p99 (ms)</text>${legend}${bars}<line x1="58" y1="${H - 40}" x2="${W - 10}" y2="${H - 40}" stroke="#444"/></svg>\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await runRoutingBench({ quick: process.argv.includes("--quick") });
}
