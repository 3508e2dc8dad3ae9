import { describe, expect, it } from "vitest";
import type { EngineLive, NodeSnapshot } from "../../../src/nodes/types.js";
import { createMaxScorePicker } from "../../../src/selector/pickers/max-score.js";
import { createSeededRng, type Rng } from "../../../src/selector/rng.js";
import { createPredictedLatencyScorer } from "../../../src/selector/scorers/predicted-latency.js";
import { FleetState } from "../../../src/selector/state/fleet-state.js";
import {
  boundRows,
  PredictionBatch,
  predictRows,
  RequestFigures,
} from "../../../src/selector/state/latency-model.js";
import { blockKeys } from "../../../src/selector/state/prefix-index.js";
import type { SelectionRequest } from "../../../src/selector/types.js";
import { type GpuKind, makeNode, makeRequest, testClock } from "./factory.js";
import { predictRowsReference } from "./reference-latency-model.js";

// Differential test for the decision-latency work on gpu_aware's model loop: on seeded random
// fleets and job flows, the optimised predictRows must give every node the same objective as the
// reference (the loop before the work), bit for bit, and the same best. The picker only sees
// best ÷ objective, so equal objectives mean equal decisions, tie-breaks included.

const MODEL = "llama-3.1-8b";
const KINDS: GpuKind[] = ["h100", "a100", "l4", "rtx4090", "rtx3090", "rtx3080"];

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[Math.floor(rng() * xs.length)] as T;
}

/** Live engine figures, including the stale, unhealthy and garbage cases. */
function engine(rng: Rng, running: number): EngineLive | undefined {
  const r = rng();
  if (r < 0.15) return undefined;
  if (r < 0.2) return { healthy: false, runningRequests: running };
  if (r < 0.25) return { healthy: true, runningRequests: Number.NaN, kvCacheUsage: Number.POSITIVE_INFINITY };
  return {
    healthy: true,
    runningRequests: running,
    waitingRequests: rng() < 0.3 ? Math.floor(rng() * 6) : 0,
    kvCacheUsage: rng() < 0.2 ? 0.9 + rng() * 0.1 : rng(),
  };
}

function fleetOf(rng: Rng, ids: readonly string[], kinds: Map<string, GpuKind>): NodeSnapshot[] {
  return ids.map((id) => {
    const inFlight = rng() < 0.05 ? Number.NaN : Math.floor(rng() * 20);
    const e = engine(rng, Number.isNaN(inFlight) ? 3 : inFlight);
    return makeNode(id, {
      gpu: kinds.get(id) ?? "rtx4090",
      inFlight,
      ...(e !== undefined ? { engine: e } : {}),
    });
  });
}

function requestOf(rng: Rng, i: number): SelectionRequest {
  const prompt = rng() < 0.03 ? Number.NaN : 50 + Math.floor(rng() * 6000);
  // Prefixes from a small pool of conversation families, so hits (and deep ones) happen.
  const family = Math.floor(rng() * 6);
  const blocks = Number.isNaN(prompt) ? 0 : Math.min(32, Math.floor(prompt / 64));
  const shared = Math.floor(rng() * blocks);
  const prefixHashes = Array.from({ length: blocks }, (_, b) =>
    b < shared ? BigInt(family * 1000 + b) : BigInt(1_000_000 + i * 100 + b),
  );
  return makeRequest({
    model: MODEL,
    promptTokens: prompt,
    maxTokens: rng() < 0.1 ? 0 : 1 + Math.floor(rng() * 1024),
    prefixHashes,
  });
}

describe("gpu_aware model loop: optimised vs reference", () => {
  it.each([1, 2, 3, 4, 5])("seed %i: same objective for every node over 400 decisions", (seed) => {
    const rng = createSeededRng(seed);
    const clock = testClock();
    const fleet = new FleetState({
      now: clock.now,
      prefixes: true,
      prefixCapacity: 128,
      prefixBlockTokens: 64,
      learnSpeeds: true,
      adaptive: false,
    });
    const kinds = new Map<string, GpuKind>();
    let ids = Array.from({ length: 40 + seed * 7 }, (_, k) => `n${k}`);
    for (const id of ids) kinds.set(id, pick(rng, KINDS));
    const figures = new RequestFigures();
    figures.fromIndex = true;
    figures.kvDiscount = 0.5;
    const a = new PredictionBatch();
    const b = new PredictionBatch();
    const open: { id: string; at: number; prompt: number }[] = [];
    let compared = 0;
    for (let i = 0; i < 400; i++) {
      clock.t += Math.floor(rng() * 50);
      if (rng() < 0.03) {
        // The candidate list changes: a node leaves, another arrives, positions shift.
        const gone = pick(rng, ids);
        ids = ids.filter((x) => x !== gone);
        fleet.remove(gone);
        const fresh = `m${i}`;
        kinds.set(fresh, pick(rng, KINDS));
        ids.splice(Math.floor(rng() * ids.length), 0, fresh);
      }
      const nodes = fleetOf(rng, ids, kinds);
      const request = requestOf(rng, i);
      const n = nodes.length;
      const at = Int32Array.from({ length: n }, (_, k) => k);
      a.reserve(n);
      b.reserve(n);
      const index = fleet.prefixes;
      let epoch = Number.NaN;
      if (
        index !== undefined &&
        request.prefixHashes.length > 0 &&
        index.match(blockKeys(request.prefixHashes)) > 0
      ) {
        epoch = index.currentEpoch;
      }
      figures.promptTokens = Math.max(0, Number.isFinite(request.promptTokens) ? request.promptTokens : 0);
      figures.expectedOutput = fleet.expectedOutput(request);
      figures.now = clock.now();
      figures.matchEpoch = epoch;
      figures.blockTokens = fleet.blockTokens(request);
      figures.model = request.model;
      figures.modelId = fleet.table.modelId(request.model);
      figures.ttftWeight = rng() < 0.5 ? 1 : rng() * 3;
      const bestA = predictRowsReference(fleet.table, fleet, nodes, n, at, figures, a);
      const bestB = predictRows(fleet.table, fleet, nodes, n, at, figures, b);
      expect(Object.is(bestA, bestB)).toBe(true);
      for (let k = 0; k < n; k++) {
        if (!Object.is(a.objective[k], b.objective[k]) || !Object.is(a.cachedTokens[k], b.cachedTokens[k])) {
          expect({ node: nodes[k]?.id, objective: b.objective[k], cached: b.cachedTokens[k] }).toEqual({
            node: nodes[k]?.id,
            objective: a.objective[k],
            cached: a.cachedTokens[k],
          });
        }
        compared++;
      }
      // The job flow between decisions: a dispatch to a random node, outcomes of older jobs.
      const chosen = pick(rng, nodes);
      fleet.selected(chosen);
      fleet.dispatch(request, chosen.id);
      open.push({ id: chosen.id, at: clock.t, prompt: request.promptTokens });
      while (open.length > 30 || (open.length > 0 && rng() < 0.3)) {
        const job = open.splice(Math.floor(rng() * open.length), 1)[0] as (typeof open)[number];
        const duration = clock.t - job.at + Math.floor(rng() * 500);
        fleet.outcome({
          nodeId: job.id,
          model: MODEL,
          ok: rng() > 0.05,
          promptTokens: job.prompt,
          completionTokens: Math.floor(rng() * 500),
          cachedPromptTokens: Math.floor(rng() * 200),
          ttftMs: rng() * Math.min(duration, 400),
          durationMs: duration,
        });
      }
    }
    expect(compared).toBeGreaterThan(400 * 40);
  });
});

// Branch and bound (boundRows, and the scorer's scoreForMaxPick): every bound is at most the
// node's objective, the least objective is predictRows' own, and the max-score picker picks the
// same node, drawing the same tie-breaks, from the bounded scores as from the full ones.
describe("gpu_aware branch and bound vs the full model", () => {
  it.each([1, 2, 3, 4, 5, 6])(
    "seed %i: bounds hold, same least objective, same pick and RNG draws",
    (seed) => {
      const rng = createSeededRng(100 + seed);
      const clock = testClock();
      const options = {
        now: clock.now,
        prefixes: true,
        prefixCapacity: 128,
        prefixBlockTokens: 64,
        learnSpeeds: true,
        adaptive: false,
      };
      // Two fleets fed the same job flow: one scored in full, one through the bound.
      const full = new FleetState(options);
      const bounded = new FleetState(options);
      const env = (fleet: FleetState) => ({
        gpuThreshold: 80,
        vramThreshold: 90,
        activeRequestThreshold: 10,
        now: clock.now,
        fleet,
      });
      const params = seed % 2 === 0 ? { ttftWeight: 0.3 + seed } : undefined;
      const scoreFull = createPredictedLatencyScorer(params, env(full));
      const scoreBounded = createPredictedLatencyScorer(params, env(bounded));
      const picker = createMaxScorePicker();
      const kinds = new Map<string, GpuKind>();
      const ids = Array.from({ length: 30 + seed * 11 }, (_, k) => `n${k}`);
      for (const id of ids) kinds.set(id, pick(rng, KINDS));
      const figures = new RequestFigures();
      figures.fromIndex = true;
      figures.kvDiscount = 0.5;
      const a = new PredictionBatch();
      const b = new PredictionBatch();
      const open: { id: string; at: number; prompt: number }[] = [];
      let evaluated = 0;
      let keptTotal = 0;
      let nodes = 0;
      for (let i = 0; i < 300; i++) {
        clock.t += Math.floor(rng() * 50);
        // Identical twins on purpose (ties), as well as every kind of live figure.
        const fleetNodes = fleetOf(rng, ids, kinds).map((node, k) =>
          k % 7 === 3 ? makeNode(node.id, { gpu: kinds.get(node.id) ?? "rtx4090", inFlight: 2 }) : node,
        );
        const request = requestOf(rng, i);
        const n = fleetNodes.length;
        const at = Int32Array.from({ length: n }, (_, k) => k);
        // The bound against the full model, on the same state (prefix hits included).
        a.reserve(n);
        b.reserve(n);
        const index = full.prefixes;
        let epoch = Number.NaN;
        if (
          index !== undefined &&
          request.prefixHashes.length > 0 &&
          index.match(blockKeys(request.prefixHashes)) > 0
        ) {
          epoch = index.currentEpoch;
        }
        figures.promptTokens = Math.max(0, Number.isFinite(request.promptTokens) ? request.promptTokens : 0);
        figures.expectedOutput = full.expectedOutput(request);
        figures.now = clock.now();
        figures.matchEpoch = epoch;
        figures.blockTokens = full.blockTokens(request);
        figures.model = request.model;
        figures.modelId = full.table.modelId(request.model);
        figures.ttftWeight = rng() < 0.5 ? 1 : rng() * 3;
        const best = predictRows(full.table, full, fleetNodes, n, at, figures, a);
        const least = boundRows(full.table, full, fleetNodes, n, at, figures, b);
        expect(Object.is(least, best)).toBe(true);
        for (let k = 0; k < n; k++) {
          if (!((b.lower[k] as number) <= (a.objective[k] as number))) {
            expect({ node: fleetNodes[k]?.id, bound: b.lower[k] }).toEqual({
              node: fleetNodes[k]?.id,
              bound: a.objective[k],
            });
          }
          if (b.exact[k] === 1) expect(Object.is(b.objective[k], a.objective[k])).toBe(true);
          evaluated += b.exact[k] as number;
        }
        nodes += n;
        // The pick, tie-breaks included, from both scorers.
        const outA = new Float64Array(n);
        const outB = new Float64Array(n);
        const kept = new Int32Array(n);
        scoreFull.score(request, fleetNodes, n, outA, at);
        const m = scoreBounded.scoreForMaxPick?.(request, fleetNodes, n, outB, at, 1, kept) ?? 0;
        const rngA = createSeededRng(seed * 1000 + i);
        const rngB = createSeededRng(seed * 1000 + i);
        const pickA = picker.pickWeighted?.(request, fleetNodes, n, outA, 1, rngA, at);
        const pickKept = picker.pickWeighted?.(request, fleetNodes, m, outB, 1, rngB, at) as number;
        const pickB = kept[pickKept];
        expect(pickB).toBe(pickA);
        // The kept nodes carry their full scores, in candidate order.
        for (let j = 0; j < m; j++) {
          expect(Object.is(outB[j], outA[kept[j] as number])).toBe(true);
          if (j > 0) expect(kept[j] as number).toBeGreaterThan(kept[j - 1] as number);
        }
        keptTotal += m;
        expect(rngB()).toBe(rngA()); // as many draws on both sides
        expect(scoreBounded.reason?.(pickB as number)).toBe(scoreFull.reason?.(pickA as number));
        // The same job flow into both fleets.
        const chosen = fleetNodes[pickA as number] as NodeSnapshot;
        for (const fleet of [full, bounded]) {
          fleet.selected(chosen);
          fleet.dispatch(request, chosen.id);
        }
        open.push({ id: chosen.id, at: clock.t, prompt: request.promptTokens });
        while (open.length > 25 || (open.length > 0 && rng() < 0.3)) {
          const job = open.splice(Math.floor(rng() * open.length), 1)[0] as (typeof open)[number];
          const duration = clock.t - job.at + Math.floor(rng() * 500);
          const outcome = {
            nodeId: job.id,
            model: MODEL,
            ok: rng() > 0.05,
            promptTokens: job.prompt,
            completionTokens: Math.floor(rng() * 500),
            cachedPromptTokens: Math.floor(rng() * 200),
            ttftMs: rng() * Math.min(duration, 400),
            durationMs: duration,
          };
          full.outcome(outcome);
          bounded.outcome(outcome);
        }
      }
      // The bound spares most full predictions (it would not be worth having otherwise), and
      // the picker sees few of the nodes.
      expect(evaluated).toBeLessThan(nodes / 2);
      expect(keptTotal).toBeLessThan(nodes / 2);
    },
  );
});
