import type { NodeSnapshot } from "../../nodes/types.js";
import { nodeWeight } from "../instance-weight.js";
import type { Picker } from "../pipeline.js";
import type { PluginEnv } from "../plugin-kit.js";

/**
 * Seed 004 weighted_round_robin, as nginx's smooth weighted round robin: every pick adds each
 * candidate's weight to its running weight, takes the largest and subtracts the total from it.
 * Over any window a node gets its weight's share, interleaved (3:1 gives A A B A, not A A A B).
 * Weights come from `nodeWeight` (VRAM class × cheap-price bonus). Running weights live in the
 * strategy's fleet state, so a removed node's entry goes with it.
 */
export function createWeightedRoundRobinPicker(_params: unknown, env: PluginEnv): Picker {
  return {
    name: "weighted-round-robin",
    usesScores: false,
    pick(_request, nodes, n) {
      let total = 0;
      let best = -1;
      let bestCurrent = Number.NEGATIVE_INFINITY;
      let bestRecord: ReturnType<typeof env.fleet.record> | undefined;
      for (let i = 0; i < n; i++) {
        const node = nodes[i] as NodeSnapshot;
        const rec = env.fleet.recordAt(i, node);
        const weight = nodeWeight(node);
        rec.swrrCurrent += weight;
        total += weight;
        if (rec.swrrCurrent > bestCurrent) {
          bestCurrent = rec.swrrCurrent;
          best = i;
          bestRecord = rec;
        }
      }
      if (bestRecord !== undefined) bestRecord.swrrCurrent -= total;
      return best;
    },
  };
}
