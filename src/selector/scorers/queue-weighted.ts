import type { NodeSnapshot } from "../../nodes/types.js";
import { activeRequests, percent } from "../node-figures.js";
import type { Scorer } from "../pipeline.js";
import type { PluginParams } from "../plugin-kit.js";
import { numParam } from "../plugin-kit.js";

/**
 * Seed 002 queue-weighted load: cost = GPU% × 0.3 + queue length × 0.7 × 10 (the seed's integer
 * scaling: one queued request weighs like 23 points of GPU utilisation); lower is better. The
 * queue is the node's active requests (our in-flight count, or the engine's running + waiting).
 * Unknown GPU % is imputed as the candidates' mean, so a node is neither rewarded nor punished
 * for a stale GPU reading. Score = (1 + min cost) / (1 + cost).
 */
export function createQueueWeightedScorer(params?: PluginParams): Scorer {
  const gpuWeight = numParam(params, "gpuWeight", 0.3);
  const queueWeight = numParam(params, "queueWeight", 0.7);
  return {
    name: "queue-weighted",
    score(_request, nodes, n, out) {
      let sum = 0;
      let known = 0;
      for (let i = 0; i < n; i++) {
        const gpu = percent((nodes[i] as NodeSnapshot).gpuUsagePercent);
        if (gpu !== undefined) {
          sum += gpu;
          known++;
        }
      }
      const meanGpu = known > 0 ? sum / known : 0;
      let min = Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const node = nodes[i] as NodeSnapshot;
        const gpu = percent(node.gpuUsagePercent) ?? meanGpu;
        const cost = gpu * gpuWeight + activeRequests(node) * queueWeight * 10;
        out[i] = cost;
        if (cost < min) min = cost;
      }
      for (let i = 0; i < n; i++) out[i] = (1 + min) / (1 + (out[i] as number));
    },
  };
}
