import { nodeCapability } from "../capability.js";
import type { Scorer } from "../pipeline.js";

/**
 * Seed 000 step 4: GPU capability (VRAM GB × 100 + compute boost, summed over the node's GPUs),
 * normalised by the best candidate's, so the most capable node scores 1.
 */
export function createCapabilityScorer(): Scorer {
  return {
    name: "capability",
    score(_request, nodes, n, out) {
      let max = 0;
      for (let i = 0; i < n; i++) {
        const c = nodeCapability(nodes[i] as (typeof nodes)[number]);
        out[i] = c;
        if (c > max) max = c;
      }
      for (let i = 0; i < n; i++) out[i] = max > 0 ? (out[i] as number) / max : 1;
    },
  };
}
