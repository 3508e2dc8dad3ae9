import type { NodeSnapshot } from "../../nodes/types.js";
import type { Scorer } from "../pipeline.js";
import type { PluginEnv } from "../plugin-kit.js";

/**
 * Seed 000 step 4: GPU capability (VRAM GB × 100 + compute boost, summed over the node's GPUs),
 * normalised by the best candidate's, so the most capable node scores 1. The capability is a
 * registration fact, cached by candidate position (state/node-facts.ts).
 */
export function createCapabilityScorer(_params: unknown, env: PluginEnv): Scorer {
  return {
    name: "capability",
    score(_request, nodes, n, out, slots) {
      const facts = env.fleet.facts;
      let max = 0;
      for (let i = 0; i < n; i++) {
        const c = facts.capabilityAt(slots[i] as number, nodes[i] as NodeSnapshot);
        out[i] = c;
        if (c > max) max = c;
      }
      for (let i = 0; i < n; i++) out[i] = max > 0 ? (out[i] as number) / max : 1;
    },
  };
}
