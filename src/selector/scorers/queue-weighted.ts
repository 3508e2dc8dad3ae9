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
      // One pass reads the nodes. A node with a GPU figure gets its cost there; one without keeps
      // its queue in out[] (GPU NaN) until the mean GPU % is known. The least cost of those is
      // at the shortest or the longest queue (the cost is monotone in the queue), so the second
      // pass can already divide.
      let sum = 0;
      let known = 0;
      let min = Number.POSITIVE_INFINITY;
      let shortest = Number.POSITIVE_INFINITY;
      let longest = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const node = nodes[i] as NodeSnapshot;
        const gpu = gpuUsageOf(node);
        const queue = activeRequests(node);
        if (isPercent(gpu)) {
          sum += gpu;
          known++;
          gpus[i] = gpu;
          const cost = gpu * gpuWeight + queue * queueWeight * 10;
          out[i] = cost;
          if (cost < min) min = cost;
        } else {
          gpus[i] = Number.NaN;
          out[i] = queue;
          if (queue < shortest) shortest = queue;
          if (queue > longest) longest = queue;
        }
      }
      const meanGpu = known > 0 ? sum / known : 0;
      if (known < n) {
        const a = meanGpu * gpuWeight + shortest * queueWeight * 10;
        const b = meanGpu * gpuWeight + longest * queueWeight * 10;
        if (a < min) min = a;
        if (b < min) min = b;
      }
      for (let i = 0; i < n; i++) {
        const q = out[i] as number;
        const cost = Number.isNaN(gpus[i] as number) ? meanGpu * gpuWeight + q * queueWeight * 10 : q;
        out[i] = (1 + min) / (1 + cost);
      }
    },
  };
}
