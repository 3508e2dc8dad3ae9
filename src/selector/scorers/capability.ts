import type { GpuFacts, NodeSnapshot } from "../../nodes/types.js";
import { nodeCapability } from "../capability.js";
import type { Scorer } from "../pipeline.js";

/**
 * Seed 000 step 4: GPU capability (VRAM GB × 100 + compute boost, summed over the node's GPUs),
 * normalised by the best candidate's, so the most capable node scores 1.
 */
export function createCapabilityScorer(): Scorer {
  // GPU lists are static per node: remember the last one seen at each candidate position.
  let slotGpus: (readonly GpuFacts[])[] = [];
  let slotScore = new Float64Array(64);
  return {
    name: "capability",
    score(_request, nodes, n, out) {
      if (slotScore.length < n) {
        slotScore = new Float64Array(Math.max(n, slotScore.length * 2));
        slotGpus = [];
      }
      let max = 0;
      for (let i = 0; i < n; i++) {
        const gpus = (nodes[i] as NodeSnapshot).gpus;
        let c: number;
        if (slotGpus[i] === gpus) c = slotScore[i] as number;
        else {
          c = nodeCapability(nodes[i] as NodeSnapshot);
          slotGpus[i] = gpus;
          slotScore[i] = c;
        }
        out[i] = c;
        if (c > max) max = c;
      }
      for (let i = 0; i < n; i++) out[i] = max > 0 ? (out[i] as number) / max : 1;
    },
  };
}
