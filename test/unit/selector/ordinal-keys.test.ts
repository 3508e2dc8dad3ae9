import { describe, expect, it } from "vitest";
import { NodeOrdinals, nextNodeGeneration } from "../../../src/nodes/node-ordinals.js";
import type { GpuFacts, NodeLabels, NodeSnapshot } from "../../../src/nodes/types.js";
import { createStrategy, STRATEGY_NAMES } from "../../../src/selector/registry.js";
import { createSeededRng, type Rng } from "../../../src/selector/rng.js";
import { FleetState } from "../../../src/selector/state/fleet-state.js";
import { NodeFacts } from "../../../src/selector/state/node-facts.js";
import type { SelectionRequest } from "../../../src/selector/types.js";
import { GPU, type GpuKind, gpu, makeNode } from "./factory.js";

// The selector's per-node caches are keyed by the node store's ordinal when a snapshot has one
// (checked by generation alone), else by candidate position (checked by id and GPU list). Both
// must make the same decisions: the same scenario, with ordinals as a NodeStore hands them out
// (reused after removal, a new generation at each registration) and without, gives the same
// picks, reasons and tie-breaks for every strategy.

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
const KINDS = Object.keys(GPU) as GpuKind[];

interface Registration {
  id: string;
  ordinal: number;
  generation: number;
  gpus: GpuFacts[];
  labels: NodeLabels;
}

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[Math.floor(rng() * xs.length)] as T;
}

function priceLabels(rng: Rng): NodeLabels {
  const r = rng();
  return r < 0.1
    ? { region: "r", tier: "t" }
    : { region: "r", tier: "t", costPerHourUsd: Math.round(r * 8) * 0.5 };
}

function snapshot(rng: Rng, reg: Registration, withOrdinals: boolean): Mutable<NodeSnapshot> {
  const node: Mutable<NodeSnapshot> = {
    id: reg.id,
    ...(withOrdinals ? { ordinal: reg.ordinal, generation: reg.generation } : {}),
    state: "online",
    models: new Set(["llama-3.1-8b"]),
    gpus: reg.gpus,
    labels: reg.labels,
    maxConcurrency: 16,
    inFlight: 0,
    totalRequests: 0,
    lastSeenMs: 0,
  };
  refresh(rng, node);
  return node;
}

function refresh(rng: Rng, node: Mutable<NodeSnapshot>): void {
  node.inFlight = Math.floor(rng() * 14);
  node.totalRequests = Math.floor(rng() * 5) * 10;
  const stale = rng() < 0.15;
  node.gpuUsagePercent = stale ? undefined : Math.floor(rng() * 11) * 10;
  node.vramUsagePercent = stale ? undefined : 40 + Math.floor(rng() * 6) * 10;
  node.engine = stale
    ? undefined
    : {
        healthy: rng() > 0.05,
        runningRequests: node.inFlight,
        waitingRequests: rng() < 0.25 ? Math.floor(rng() * 4) : 0,
        kvCacheUsage: Math.floor(rng() * 10) / 10,
      };
  const latency = stale ? undefined : 200 + Math.floor(rng() * 8) * 250;
  node.avgResponseMs = latency;
  node.ewmaResponseMs = latency;
}

function request(rng: Rng, i: number): SelectionRequest {
  const promptTokens = 64 + Math.floor(rng() * 4000);
  const blocks = Math.min(32, Math.floor(promptTokens / 64));
  const family = BigInt(Math.floor(rng() * 6));
  const r = rng();
  return {
    model: "llama-3.1-8b",
    userId: `u${i % 4}`,
    promptTokens,
    maxTokens: 1 + Math.floor(rng() * 600),
    prefixHashes: Array.from({ length: blocks }, (_, b) =>
      b < 6 ? 10_000n + BigInt(b) : 20_000n + family * 100n + BigInt(b),
    ),
    ...(r < 0.1 ? { requirements: { maxCostPerHourUsd: pick(rng, [0.5, 1, 2]) } } : {}),
  };
}

/** One strategy through a seeded scenario; the decisions as "id|reason" strings. */
function run(name: string, seed: number, size: number, decisions: number, withOrdinals: boolean): string[] {
  const rng = createSeededRng(seed);
  let t = 1_000_000;
  const strategy = createStrategy(name, {
    gpuThreshold: 80,
    vramThreshold: 90,
    activeRequestThreshold: 10,
    rng: createSeededRng(seed + 1),
    now: () => t,
    prefixBlockTokens: 64,
  });
  const ordinals = new NodeOrdinals();
  let serial = 0;
  const register = (): Registration => ({
    id: `n${serial++}`,
    ordinal: ordinals.allocate(),
    generation: nextNodeGeneration(),
    gpus: [gpu(pick(rng, KINDS))],
    labels: priceLabels(rng),
  });
  const regs = Array.from({ length: size }, register);
  const live = new Map(regs.map((reg) => [reg.id, snapshot(rng, reg, withOrdinals)]));
  const open: { id: string; at: number; prompt: number }[] = [];
  const out: string[] = [];
  for (let i = 0; i < decisions; i++) {
    t += Math.floor(rng() * 40);
    const event = rng();
    if (event < 0.03) {
      // A node leaves (its ordinal freed), another registers (and likely reuses it).
      const gone = regs.splice(Math.floor(rng() * regs.length), 1)[0] as Registration;
      live.delete(gone.id);
      ordinals.release(gone.ordinal);
      strategy.onNodeRemoved?.(gone.id);
      const fresh = register();
      regs.splice(Math.floor(rng() * (regs.length + 1)), 0, fresh);
      live.set(fresh.id, snapshot(rng, fresh, withOrdinals));
    } else if (event < 0.06) {
      // Re-registration: new labels or GPUs, and with them a new generation.
      const reg = pick(rng, regs);
      if (rng() < 0.5) reg.labels = priceLabels(rng);
      else reg.gpus = [gpu(pick(rng, KINDS))];
      reg.generation = nextNodeGeneration();
      live.set(reg.id, snapshot(rng, reg, withOrdinals));
    } else if (event < 0.1) {
      const a = Math.floor(rng() * regs.length);
      const b = Math.floor(rng() * regs.length);
      [regs[a], regs[b]] = [regs[b] as Registration, regs[a] as Registration];
    }
    for (const reg of regs) if (rng() < 0.5) refresh(rng, live.get(reg.id) as Mutable<NodeSnapshot>);
    const req = request(rng, i);
    // Full nodes drop out of the list, which moves every later node's position.
    const candidates = regs
      .map((reg) => live.get(reg.id) as NodeSnapshot)
      .filter((node) => node.inFlight < 13 || rng() < 0.5);
    const selection = strategy.select(req, candidates);
    out.push(selection === undefined ? "none" : `${selection.node.id}|${selection.reason}`);
    if (selection === undefined) continue;
    strategy.onDispatch?.(req, selection.node.id);
    open.push({ id: selection.node.id, at: t, prompt: req.promptTokens });
    while (open.length > size / 2 || (open.length > 0 && rng() < 0.4)) {
      const job = open.splice(Math.floor(rng() * open.length), 1)[0] as (typeof open)[number];
      strategy.onOutcome?.({
        nodeId: job.id,
        model: "llama-3.1-8b",
        ok: true,
        promptTokens: job.prompt,
        completionTokens: Math.floor(rng() * 600),
        cachedPromptTokens: 0,
        ttftMs: rng() * 400,
        durationMs: t - job.at + Math.floor(rng() * 3000),
      });
    }
  }
  return out;
}

describe("caches keyed by ordinal decide as caches keyed by position", () => {
  it.each([...STRATEGY_NAMES])("%s", (name) => {
    for (const [seed, size, decisions] of [
      [1, 12, 600],
      [2, 80, 400],
      [3, 300, 120],
    ] as const) {
      const byPosition = run(name, seed, size, decisions, false);
      const byOrdinal = run(name, seed, size, decisions, true);
      expect(byOrdinal).toEqual(byPosition);
      expect(new Set(byOrdinal).size).toBeGreaterThan(1);
    }
  });
});

describe("an ordinal passed to another node", () => {
  const options = {
    now: () => 0,
    prefixes: false,
    prefixCapacity: 0,
    prefixBlockTokens: 0,
    learnSpeeds: true,
    adaptive: false,
  };

  it("binds the new node's own record, not the old one's", () => {
    const fleet = new FleetState(options);
    const old = makeNode("old", { ordinal: 0, generation: nextNodeGeneration() });
    const rowOld = fleet.indexAt(5, old);
    expect(fleet.indexAt(7, old)).toBe(rowOld); // by ordinal: the position does not matter
    const next = makeNode("next", { ordinal: 0, generation: nextNodeGeneration(), gpus: old.gpus });
    const rowNext = fleet.indexAt(5, next);
    expect(rowNext).not.toBe(rowOld);
    expect(fleet.peek("next")?.ix).toBe(rowNext);
  });

  it("recomputes registration figures for the new node, even from shared objects' neighbours", () => {
    const facts = new NodeFacts();
    const small = makeNode("small", { ordinal: 3, generation: nextNodeGeneration(), gpu: "rtx3080" });
    expect(facts.capabilityAt(0, small)).toBe(1200);
    const big = makeNode("big", { ordinal: 3, generation: nextNodeGeneration(), gpu: "h100" });
    expect(facts.capabilityAt(0, big)).toBe(9500);
    const relabelled = {
      ...big,
      generation: nextNodeGeneration(),
      labels: { region: "r", tier: "t", costPerHourUsd: 2 },
    };
    expect(facts.costAt(0, relabelled)).toBe(2);
  });
});
