import { describe, expect, it } from "vitest";
import { nextNodeGeneration } from "../../../src/nodes/node-ordinals.js";
import type { NodeSnapshot } from "../../../src/nodes/types.js";
import { createMaxScorePicker } from "../../../src/selector/pickers/max-score.js";
import { createSeededRng, type Rng } from "../../../src/selector/rng.js";
import { createCostPerformanceScorer } from "../../../src/selector/scorers/cost-performance.js";
import { FleetState } from "../../../src/selector/state/fleet-state.js";
import { type GpuKind, makeNode, makeRequest, testClock } from "./factory.js";

// cost_aware's branch and bound (the cost-performance scorer's scoreForMaxPick) against its full
// scoring: on seeded fleets with priced, unpriced, free and identically priced twins, and nodes
// with and without store ordinals, the max-score picker picks the same node and draws the same
// tie-breaks from the kept nodes as from every node's full score, and the kept nodes carry their
// full scores, in candidate order.

const MODEL = "llama-3.1-8b";
const KINDS: GpuKind[] = ["h100", "a100", "l4", "rtx4090", "rtx3090", "rtx3080"];
const PRICES = [undefined, 0, 0.005, 0.5, 0.5, 1, 2, 2, 4, Number.NaN] as const;

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[Math.floor(rng() * xs.length)] as T;
}

describe("cost_aware branch and bound vs full scoring", () => {
  it.each([1, 2, 3, 4, 5, 6])("seed %i: same pick, same RNG draws, same kept scores", (seed) => {
    const rng = createSeededRng(200 + seed);
    const clock = testClock();
    const options = {
      now: clock.now,
      prefixes: false,
      prefixCapacity: 0,
      prefixBlockTokens: 0,
      learnSpeeds: true,
      adaptive: false,
    };
    const full = new FleetState(options);
    const bounded = new FleetState(options);
    const env = (fleet: FleetState) => ({
      gpuThreshold: 80,
      vramThreshold: 90,
      activeRequestThreshold: 10,
      now: clock.now,
      fleet,
    });
    const scoreFull = createCostPerformanceScorer(undefined, env(full));
    const scoreBounded = createCostPerformanceScorer(undefined, env(bounded));
    const picker = createMaxScorePicker();
    const count = 20 + seed * 15;
    // Seeds 1-3 price every node (the common case); the others leave some unpriced.
    const nodes = Array.from({ length: count }, (_, k) => {
      const price = seed <= 3 ? pick(rng, [0.5, 1, 2, 4]) : pick(rng, PRICES);
      return {
        id: `n${k}`,
        kind: pick(rng, KINDS),
        labels:
          price === undefined
            ? { region: "r", tier: "t" }
            : { region: "r", tier: "t", costPerHourUsd: price },
        ordinal: seed % 2 === 0 ? k : undefined,
        generation: nextNodeGeneration(),
      };
    });
    let keptTotal = 0;
    const open: { id: string; at: number }[] = [];
    for (let i = 0; i < 300; i++) {
      clock.t += Math.floor(rng() * 50);
      const fleet: NodeSnapshot[] = nodes.map((reg, k) =>
        makeNode(reg.id, {
          gpu: reg.kind,
          labels: reg.labels,
          // Twins: every seventh node idle, so equal values (ties) are common.
          inFlight: k % 7 === 3 ? 0 : Math.floor(rng() * 40),
          ...(reg.ordinal !== undefined ? { ordinal: reg.ordinal, generation: reg.generation } : {}),
        }),
      );
      const n = fleet.length;
      const at = Int32Array.from({ length: n }, (_, k) => k);
      const request = makeRequest({ model: MODEL });
      const outA = new Float64Array(n);
      const outB = new Float64Array(n);
      const kept = new Int32Array(n);
      const weight = i % 3 === 0 ? 0.5 : 1;
      scoreFull.score(request, fleet, n, outA, at);
      const m = scoreBounded.scoreForMaxPick?.(request, fleet, n, outB, at, weight, kept) ?? 0;
      const rngA = createSeededRng(seed * 1000 + i);
      const rngB = createSeededRng(seed * 1000 + i);
      const pickA = picker.pickWeighted?.(request, fleet, n, outA, weight, rngA, at);
      const pickKept = picker.pickWeighted?.(request, fleet, m, outB, weight, rngB, at) as number;
      expect(kept[pickKept]).toBe(pickA);
      expect(rngB()).toBe(rngA()); // as many draws on both sides
      for (let j = 0; j < m; j++) {
        expect(Object.is(outB[j], outA[kept[j] as number])).toBe(true);
        if (j > 0) expect(kept[j] as number).toBeGreaterThan(kept[j - 1] as number);
      }
      keptTotal += m;
      // The same job flow into both fleets, so learned decode speeds move the values.
      const chosen = fleet[pickA as number] as NodeSnapshot;
      for (const f of [full, bounded]) {
        f.selected(chosen);
        f.dispatch(request, chosen.id);
      }
      open.push({ id: chosen.id, at: clock.t });
      while (open.length > 20 || (open.length > 0 && rng() < 0.3)) {
        const job = open.splice(Math.floor(rng() * open.length), 1)[0] as (typeof open)[number];
        const duration = clock.t - job.at + 200 + Math.floor(rng() * 3000);
        const outcome = {
          nodeId: job.id,
          model: MODEL,
          ok: true,
          promptTokens: 500,
          completionTokens: 20 + Math.floor(rng() * 500),
          cachedPromptTokens: 0,
          ttftMs: rng() * 300,
          durationMs: duration,
        };
        full.outcome(outcome);
        bounded.outcome(outcome);
      }
    }
    // The picker sees few of the nodes (the bound would not be worth having otherwise).
    expect(keptTotal).toBeLessThan((300 * count) / 2);
  });
});
