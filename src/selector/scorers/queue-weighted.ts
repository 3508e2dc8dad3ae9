import type { NodeSnapshot } from "../../nodes/types.js";
import { activeRequests, gpuUsageOf, isPercent } from "../node-figures.js";
import type { Scorer } from "../pipeline.js";
import type { PluginParams } from "../plugin-kit.js";
import { ensureLength, numParam } from "../plugin-kit.js";

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
  let gpus: Float64Array = new Float64Array(64);
  return {
    name: "queue-weighted",
    score(_request, nodes, n, out) {
      gpus = ensureLength(gpus, n);
      // One pass reads the nodes (GPU %, NaN when unknown, and queue); the rest works on arrays.
      let sum = 0;
      let known = 0;
      for (let i = 0; i < n; i++) {
        const node = nodes[i] as NodeSnapshot;
        const gpu = gpuUsageOf(node);
        if (isPercent(gpu)) {
          sum += gpu;
          known++;
          gpus[i] = gpu;
        } else gpus[i] = Number.NaN;
        out[i] = activeRequests(node);
      }
      const meanGpu = known > 0 ? sum / known : 0;
      let min = Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const g = gpus[i] as number;
        const cost = (Number.isNaN(g) ? meanGpu : g) * gpuWeight + (out[i] as number) * queueWeight * 10;
        out[i] = cost;
        if (cost < min) min = cost;
      }
      for (let i = 0; i < n; i++) out[i] = (1 + min) / (1 + (out[i] as number));
    },
  };
}
