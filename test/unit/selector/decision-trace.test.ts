import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { EngineLive, GpuFacts, NodeLabels, NodeSnapshot } from "../../../src/nodes/types.js";
import { createStrategy, STRATEGY_NAMES } from "../../../src/selector/registry.js";
import { createSeededRng, type Rng } from "../../../src/selector/rng.js";
import type { SelectionRequest } from "../../../src/selector/types.js";
import { GPU, type GpuKind, gpu } from "./factory.js";

// Golden decision traces: every strategy's picks and reasons on seeded scenarios, reduced to a
// digest. The digests were recorded from the code before the decision-latency work on the
// selector (commit 25b921c), so any change to a pick, a reason or a random tie-break (the RNG
// drawn a different number of times) changes them. The scenarios cover what the latency work
// caches or fuses: ties, stale / unhealthy / garbage figures, snapshots rewritten in place and
// rebuilt, new labels and GPU lists, nodes leaving and arriving, reordered lists, requirements,
// a second model, shared and private prompt prefixes, and the job flow between decisions.
//
// To re-record after an intended change of behaviour: RECORD_TRACES=1 npx vitest run
// test/unit/selector/decision-trace.test.ts prints the new digests.

const MODELS = ["llama-3.1-8b", "qwen-2.5-72b"] as const;
const KINDS = Object.keys(GPU) as GpuKind[];

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface Registration {
  id: string;
  gpus: GpuFacts[];
  labels: NodeLabels;
}

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[Math.floor(rng() * xs.length)] as T;
}

function register(rng: Rng, id: string, priced = false): Registration {
  const kind = pick(rng, KINDS);
  const count = rng() < 0.15 ? 2 : 1;
  const r = priced ? 1 : rng();
  const cost = r < 0.1 ? undefined : r < 0.13 ? Number.NaN : Math.round(rng() * 8) * 0.5;
  return {
    id,
    gpus: Array.from({ length: count }, (_, k) => gpu(kind, k)),
    labels:
      cost === undefined ? { region: "r", tier: "t" } : { region: "r", tier: "t", costPerHourUsd: cost },
  };
}

/** Live figures, quantised so that ties are common (the RNG then decides). */
function engineOf(rng: Rng, running: number): EngineLive | undefined {
  const r = rng();
  if (r < 0.1) return undefined;
  if (r < 0.14) return { healthy: false, runningRequests: running };
  if (r < 0.17) return { healthy: true, runningRequests: Number.NaN, kvCacheUsage: Number.POSITIVE_INFINITY };
  return {
    healthy: true,
    runningRequests: running,
    waitingRequests: rng() < 0.25 ? Math.floor(rng() * 4) : 0,
    kvCacheUsage: rng() < 0.2 ? 0.9 + Math.floor(rng() * 10) / 100 : Math.floor(rng() * 10) / 10,
  };
}

/** How often figures are stale, and whether the fleet runs hot (most nodes over the thresholds). */
interface Weather {
  stale: number;
  hot: boolean;
}

function snapshotOf(
  rng: Rng,
  reg: Registration,
  models: ReadonlySet<string>,
  weather: Weather,
): Mutable<NodeSnapshot> {
  const inFlight = rng() < 0.03 ? Number.NaN : Math.floor(rng() * 14);
  const node: Mutable<NodeSnapshot> = {
    id: reg.id,
    state: "online",
    models,
    gpus: reg.gpus,
    labels: reg.labels,
    maxConcurrency: rng() < 0.03 ? 0 : 16,
    inFlight,
    totalRequests: Math.floor(rng() * 5) * 10,
    lastSeenMs: 0,
  };
  refresh(rng, node, weather);
  return node;
}

/** Rewrites a snapshot's live figures (in place, as the control plane's NodeRecord is). */
function refresh(rng: Rng, node: Mutable<NodeSnapshot>, weather: Weather): void {
  const stale = rng() < weather.stale;
  const running = Number.isNaN(node.inFlight) ? 2 : node.inFlight;
  node.inFlight = rng() < 0.03 ? Number.NaN : Math.floor(rng() * 14);
  node.totalRequests = Math.floor(rng() * 5) * 10;
  const floor = weather.hot ? 8 : 0;
  if (weather.hot && rng() < 0.7) node.inFlight = Math.floor(rng() * 16);
  node.gpuUsagePercent =
    stale || rng() < 0.05 ? undefined : rng() < 0.05 ? 140 : (floor + Math.floor(rng() * (11 - floor))) * 10;
  node.vramUsagePercent = stale || rng() < 0.08 ? undefined : 40 + Math.floor(rng() * 6) * 10;
  if (rng() < 0.1) {
    // The GPU reading failed; the engine still reports.
    node.gpuUsagePercent = undefined;
    node.vramUsagePercent = undefined;
  }
  node.engine = stale ? undefined : engineOf(rng, running);
  const latency = stale || rng() < 0.1 ? undefined : 200 + Math.floor(rng() * 8) * 250;
  node.avgResponseMs = latency;
  node.ewmaResponseMs = latency === undefined || rng() < 0.2 ? undefined : latency + 50;
  node.lastResponseMs = latency;
}

function requestOf(rng: Rng, i: number): SelectionRequest {
  const promptTokens = rng() < 0.03 ? Number.NaN : 64 + Math.floor(rng() * 5000);
  const blocks = Number.isNaN(promptTokens) ? 0 : Math.min(48, Math.floor(promptTokens / 64));
  const shared = rng() < 0.7; // a system prompt most requests share
  const family = BigInt(Math.floor(rng() * 8));
  const prefixHashes = Array.from({ length: blocks }, (_, b) => {
    if (shared && b < 6) return 10_000n + BigInt(b);
    if (b < 10) return 20_000n + family * 100n + BigInt(b);
    return 30_000_000n + BigInt(i) * 100n + BigInt(b);
  });
  const r = rng();
  const requirements =
    r < 0.06
      ? { gpuMemoryGb: pick(rng, [16, 24, 48, 80, 200]) }
      : r < 0.12
        ? { maxCostPerHourUsd: pick(rng, [0.5, 1, 2, 0.01]) }
        : r < 0.18
          ? { maxLatencyMs: pick(rng, [300, 800, 2000]) }
          : r < 0.2
            ? { gpuMemoryGb: 24, maxCostPerHourUsd: 2, maxLatencyMs: 1500 }
            : undefined;
  return {
    model: rng() < 0.08 ? (MODELS[1] as string) : (MODELS[0] as string),
    userId: `u${i % 5}`,
    promptTokens,
    maxTokens: rng() < 0.05 ? 0 : 1 + Math.floor(rng() * 700),
    prefixHashes,
    ...(requirements !== undefined ? { requirements } : {}),
  };
}

/** Runs one strategy through a seeded scenario; returns the trace digest and decision count. */
function trace(name: string, seed: number, size: number, decisions: number, weather: Weather): string {
  const rng = createSeededRng(seed * 7919 + size);
  const tieRng = createSeededRng(seed);
  let t = 1_000_000;
  const strategy = createStrategy(name, {
    gpuThreshold: 80,
    vramThreshold: 90,
    activeRequestThreshold: 10,
    rng: tieRng,
    now: () => t,
    prefixBlockTokens: seed % 2 === 0 ? 64 : undefined,
    prefixCapacity: 96,
  });
  const models = new Set<string>(MODELS);
  const onlyFirst = new Set<string>([MODELS[0]]);
  let serial = 0;
  const regs: Registration[] = Array.from({ length: size }, () => register(rng, `n${serial++}`, weather.hot));
  // A snapshot per registration, rewritten in place or replaced by a new object.
  const live = new Map<string, Mutable<NodeSnapshot>>();
  for (const reg of regs) live.set(reg.id, snapshotOf(rng, reg, rng() < 0.8 ? models : onlyFirst, weather));
  const open: { id: string; at: number; prompt: number; model: string }[] = [];
  const hash = createHash("sha256");
  const reasons = new Map<string, number>();
  for (let i = 0; i < decisions; i++) {
    t += Math.floor(rng() * 40);
    const event = rng();
    if (event < 0.015 && regs.length > 2) {
      // A node leaves for good, another registers somewhere in the list.
      const gone = regs.splice(Math.floor(rng() * regs.length), 1)[0] as Registration;
      live.delete(gone.id);
      strategy.onNodeRemoved?.(gone.id);
      const fresh = register(rng, `n${serial++}`, weather.hot);
      regs.splice(Math.floor(rng() * (regs.length + 1)), 0, fresh);
      live.set(fresh.id, snapshotOf(rng, fresh, models, weather));
    } else if (event < 0.03) {
      // New labels (a price change) on one node.
      const reg = pick(rng, regs);
      reg.labels = { region: "r", tier: "t", costPerHourUsd: Math.round(rng() * 8) * 0.5 };
      const node = live.get(reg.id) as Mutable<NodeSnapshot>;
      node.labels = reg.labels;
    } else if (event < 0.04) {
      // Re-registration with other GPUs.
      const reg = pick(rng, regs);
      reg.gpus = [gpu(pick(rng, KINDS))];
      const node = live.get(reg.id) as Mutable<NodeSnapshot>;
      node.gpus = reg.gpus;
    } else if (event < 0.05) {
      // Two nodes swap places in the candidate order.
      const a = Math.floor(rng() * regs.length);
      const b = Math.floor(rng() * regs.length);
      [regs[a], regs[b]] = [regs[b] as Registration, regs[a] as Registration];
    }
    // Heartbeats: most snapshots rewritten in place, some rebuilt as new objects.
    for (const reg of regs) {
      const node = live.get(reg.id) as Mutable<NodeSnapshot>;
      if (rng() < 0.1) live.set(reg.id, snapshotOf(rng, reg, node.models, weather));
      else if (rng() < 0.5) refresh(rng, node, weather);
    }
    const request = requestOf(rng, i);
    const candidates: NodeSnapshot[] = [];
    for (const reg of regs) {
      const node = live.get(reg.id) as NodeSnapshot;
      if (node.models.has(request.model) && !(node.inFlight >= 16)) candidates.push(node);
    }
    // Sometimes only part of the fleet is eligible (others full or draining).
    const list = rng() < 0.1 ? candidates.filter(() => rng() < 0.5) : candidates;
    const selection = strategy.select(request, list);
    hash.update(selection === undefined ? "none;" : `${selection.node.id}|${selection.reason};`);
    const reason = selection?.reason ?? "none";
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    if (selection === undefined) continue;
    strategy.onDispatch?.(request, selection.node.id);
    open.push({ id: selection.node.id, at: t, prompt: request.promptTokens, model: request.model });
    while (open.length > size / 2 || (open.length > 0 && rng() < 0.4)) {
      const job = open.splice(Math.floor(rng() * open.length), 1)[0] as (typeof open)[number];
      const duration = t - job.at + Math.floor(rng() * 3000);
      strategy.onOutcome?.({
        nodeId: job.id,
        model: job.model,
        ok: rng() > 0.05,
        promptTokens: job.prompt,
        completionTokens: Math.floor(rng() * 600),
        cachedPromptTokens: Math.floor(rng() * 300),
        ttftMs: rng() < 0.05 ? undefined : rng() * Math.min(duration, 600),
        durationMs: rng() < 0.02 ? Number.NaN : duration,
      });
    }
  }
  if (process.env.RECORD_TRACES === "1") console.log(name, seed, JSON.stringify([...reasons]));
  return hash.digest("hex").slice(0, 16);
}

// Small fleets (many ties, narrow prefix walks), larger ones (prefix blocks held by more than the
// index's walk limit; buffers that grow), and hot fleets with many stale figures (metrics'
// fallback levels, requirements nobody meets).
const SCENARIOS: readonly (readonly [number, number, number, Weather])[] = [
  [1, 24, 1500, { stale: 0.12, hot: false }],
  [2, 60, 1200, { stale: 0.12, hot: false }],
  [3, 140, 600, { stale: 0.12, hot: false }],
  [4, 40, 1200, { stale: 0.5, hot: true }],
  [5, 6, 1500, { stale: 0.3, hot: true }],
  [6, 700, 150, { stale: 0.1, hot: false }],
];

const GOLDEN: Record<string, readonly string[]> = {
  metrics: [
    "bbe599aeda94f9ef",
    "64e6efe1fbb73344",
    "eaf649224af97324",
    "5483b0d1b6a54215",
    "e7a280b7b759228d",
    "bad4fed179952891",
  ],
  round_robin: [
    "ccbfad2edf823722",
    "337bcfed83551132",
    "0f4a44f4e65f580a",
    "faccdfb72218dd5e",
    "abe1c1437490b0fc",
    "5990292878a8d046",
  ],
  weighted_round_robin: [
    "f83b518cd1683cc7",
    "3d42f13a67c88ac2",
    "65d38b43199493ce",
    "69f41362e53d186d",
    "7e8f91bf3e287653",
    "9f6969b2972bde58",
  ],
  equal_weighted: [
    "12af51c1d31a742f",
    "ee24741c48386dda",
    "2182db8ac75b7f4a",
    "37fe50bd61fa7cad",
    "947495c19cd74d7f",
    "73bc2db16e59afaf",
  ],
  least_connections: [
    "55c9685f02a170e8",
    "22c3ada074a4afe2",
    "9f6936e94cdeb7e8",
    "c76cb105a94671c3",
    "4a62245ba93bd5fb",
    "0a28e069c53ca16d",
  ],
  least_response_time: [
    "b5930383814999e6",
    "186a17bb9ae10dde",
    "21e0c9f89d91219f",
    "d3f0525239adbf5e",
    "925a4256810e2ce8",
    "08bddbd8b50623a2",
  ],
  resource_aware: [
    "a2623c6c1f141f32",
    "51ffb566bc991111",
    "75fb34c55fd2e603",
    "39294884b096c77a",
    "5d97686fea63c1e9",
    "e2c50aab1893e4b7",
  ],
  latency_based: [
    "2dda8d9e2bda4193",
    "0e20280ec896ff4d",
    "26d6fe342e77d3af",
    "4696ae8841cdbfb0",
    "2e2a4757d7c2b9c1",
    "65633c5cb9109fb2",
  ],
  cost_aware: [
    "e677dde588ed9591",
    "507dd3fbc201ca87",
    "998ef0b940ad064a",
    "93e4a85acac8f3d1",
    "c78da6c0690eaf7c",
    "c0a7d8d92066c9b8",
  ],
  queue_weighted: [
    "beab1397f73450c0",
    "30c1cbd2b846deb4",
    "47837ca86afb3759",
    "828ba65c76a8e02e",
    "704c426f398308ce",
    "79d2bc62013dbd4e",
  ],
  smart_adaptive: [
    "f5241003de9c8c0a",
    "7444ddabbb3aa45d",
    "6303b7f053dda248",
    "f01a7c65e4ec1658",
    "23c17d02946be4ef",
    "1841f58b0d484f6c",
  ],
  gpu_aware: [
    "620e69c0fb53ffa0",
    "b97b0cc6a4f1677a",
    "fbcc2378a42218d5",
    "2261ef0349c1ae96",
    "6ec9011a54720a8a",
    "01512b9f5c208fac",
  ],
};

describe("decision traces (golden)", () => {
  if (process.env.RECORD_TRACES === "1") {
    it("records", () => {
      const out: Record<string, string[]> = {};
      for (const name of STRATEGY_NAMES) out[name] = SCENARIOS.map(([s, n, d, w]) => trace(name, s, n, d, w));
      console.log(JSON.stringify(out, null, 2));
    });
    return;
  }
  it.each([...STRATEGY_NAMES])("%s makes the recorded decisions", (name) => {
    const expected = GOLDEN[name];
    expect(expected, `no golden trace for ${name}`).toBeDefined();
    expect(SCENARIOS.map(([s, n, d, w]) => trace(name, s, n, d, w))).toEqual(expected);
  });
});
