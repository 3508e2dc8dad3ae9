import type { NodeSnapshot } from "../../nodes/types.js";
import type { Picker } from "../pipeline.js";
import type { PluginEnv } from "../plugin-kit.js";

/**
 * Seed 004 weighted_round_robin, as nginx's smooth weighted round robin: every pick adds each
 * candidate's weight to its running weight, takes the largest and subtracts the total from it.
 * Over any window a node gets its weight's share, interleaved (3:1 gives A A B A, not A A A B).
 * Weights come from `nodeWeight` (VRAM class × cheap-price bonus), cached per candidate position
 * as registration facts. Running weights live in the strategy's fleet state, so a removed
 * node's entry goes with it.
 */
export function createWeightedRoundRobinPicker(_params: unknown, env: PluginEnv): Picker {
  return {
    name: "weighted-round-robin",
    usesScores: false,
    pick(_request, nodes, n, _scores, _rng, slots) {
      const fleet = env.fleet;
      const facts = fleet.facts;
      const table = fleet.table;
      let total = 0;
      let best = -1;
      let bestCurrent = Number.NEGATIVE_INFINITY;
      let bestIx = -1;
      for (let i = 0; i < n; i++) {
        const node = nodes[i] as NodeSnapshot;
        const slot = slots[i] as number;
        const ix = fleet.indexAt(slot, node);
        const weight = facts.weightAt(slot, node);
        const current = (table.swrr[ix] as number) + weight;
        table.swrr[ix] = current;
        total += weight;
        if (current > bestCurrent) {
          bestCurrent = current;
          best = i;
          bestIx = ix;
        }
      }
      if (bestIx >= 0) table.swrr[bestIx] = (table.swrr[bestIx] as number) - total;
      return best;
    },
  };
}
