import type { GpuFacts, NodeSnapshot } from "../../../src/nodes/types.js";
import { createStrategy, type StrategyParams } from "../../../src/selector/registry.js";
import { createSeededRng } from "../../../src/selector/rng.js";
import type { SelectionRequest } from "../../../src/selector/types.js";

// Real NodeSnapshot / SelectionRequest values for selector tests (no mocks): GPU presets use the
// names and VRAM totals nvidia-smi reports for those cards.

/** GPU presets: [nvidia-smi name, memory.total MiB, compute capability]. */
export const GPU = {
  h100: ["NVIDIA H100 80GB HBM3", 81559, "9.0"],
  a100: ["NVIDIA A100-SXM4-80GB", 81920, "8.0"],
  l4: ["NVIDIA L4", 23034, "8.9"],
  rtx4090: ["NVIDIA GeForce RTX 4090", 24564, "8.9"],
  rtx3090: ["NVIDIA GeForce RTX 3090", 24576, "8.6"],
  rtx3080: ["NVIDIA GeForce RTX 3080", 10240, "8.6"],
} as const;

/** A GPU preset name. */
export type GpuKind = keyof typeof GPU;

/** GpuFacts for a preset. */
export function gpu(kind: GpuKind, index = 0): GpuFacts {
  const [name, vramTotalMib, computeCapability] = GPU[kind];
  return {
    index,
    uuid: `GPU-${kind}-${index}`,
    name,
    vramTotalMib,
    computeCapability,
    driverVersion: "580.159.04",
  };
}

type Mutable<T> = { -readonly [K in keyof T]?: T[K] };

/** Overrides for makeNode; `gpu` picks a preset for a single-GPU node. */
export type NodeOverrides = Mutable<NodeSnapshot> & { gpu?: GpuKind };

/** A healthy online node serving llama-3.1-8b on one RTX 4090 unless overridden. */
export function makeNode(id: string, overrides: NodeOverrides = {}): NodeSnapshot {
  const { gpu: kind, ...rest } = overrides;
  return {
    id,
    state: "online",
    models: new Set(["llama-3.1-8b"]),
    gpus: [gpu(kind ?? "rtx4090")],
    labels: { region: "local", tier: "standard" },
    maxConcurrency: 64,
    inFlight: 0,
    totalRequests: 0,
    lastSeenMs: 0,
    ...rest,
  };
}

/** A node with every optional figure undefined (no heartbeat figures, no history). */
export function bareNode(id: string, kind?: GpuKind): NodeSnapshot {
  return makeNode(id, kind === undefined ? {} : { gpu: kind });
}

/** A node whose optional figures are garbage (NaN, ±Infinity, negatives, out of range). */
export function garbageNode(id: string): NodeSnapshot {
  return makeNode(id, {
    gpus: [{ ...gpu("rtx4090"), name: "", vramTotalMib: Number.NaN }],
    maxConcurrency: Number.NaN,
    inFlight: Number.NaN,
    totalRequests: Number.POSITIVE_INFINITY,
    gpuUsagePercent: Number.NaN,
    vramUsagePercent: 250,
    engine: {
      healthy: true,
      runningRequests: -3,
      waitingRequests: Number.NaN,
      kvCacheUsage: Number.POSITIVE_INFINITY,
    },
    avgResponseMs: Number.NaN,
    ewmaResponseMs: -5,
    lastResponseMs: Number.POSITIVE_INFINITY,
    labels: { region: "x", tier: "y", costPerHourUsd: Number.NaN },
  });
}

/** A chat request for llama-3.1-8b. */
export function makeRequest(overrides: Mutable<SelectionRequest> = {}): SelectionRequest {
  return {
    model: "llama-3.1-8b",
    userId: "u1",
    promptTokens: 512,
    maxTokens: 256,
    prefixHashes: [],
    ...overrides,
  };
}

/** The seed's default thresholds. */
export const SEED_THRESHOLDS = { gpuThreshold: 80, vramThreshold: 90, activeRequestThreshold: 10 } as const;

/** A controllable clock for strategies (ms). */
export interface TestClock {
  t: number;
  readonly now: () => number;
}

/** A clock starting at `t0` ms. */
export function testClock(t0 = 1_000_000): TestClock {
  const clock = { t: t0, now: () => clock.t };
  return clock;
}

/** A strategy with seed thresholds, a seeded RNG and a test clock. */
export function makeStrategy(name: string, extra: Partial<StrategyParams> = {}, clock = testClock()) {
  return createStrategy(name, { ...SEED_THRESHOLDS, rng: createSeededRng(42), now: clock.now, ...extra });
}

/** Ids picked over `times` decisions (no dispatch feedback). */
export function picks(
  strategy: ReturnType<typeof makeStrategy>,
  request: SelectionRequest,
  nodes: readonly NodeSnapshot[],
  times: number,
): string[] {
  const out: string[] = [];
  for (let i = 0; i < times; i++) out.push(strategy.select(request, nodes)?.node.id ?? "none");
  return out;
}

/** How many times each id occurs. */
export function tally(ids: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const id of ids) counts[id] = (counts[id] ?? 0) + 1;
  return counts;
}
