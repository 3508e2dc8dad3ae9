import type { NodeSnapshot } from "../../nodes/types.js";
import { activeRequests } from "../node-figures.js";
import type { Scorer } from "../pipeline.js";
import type { PluginEnv } from "../plugin-kit.js";

/**
 * Seed 003 smart_adaptive: each node (per model) has an online-learned regression of job
 * duration on [1, prompt/1000, output/100, output/100 × concurrent jobs] (recursive least squares
 * with forgetting, fed by every outcome; state/fleet-state.ts). Cold nodes start from the GPU
 * table prior. Predicts this request's duration everywhere and scores fastest / own.
 */
export function createLearnedDurationScorer(_params: unknown, env: PluginEnv): Scorer {
  return {
    name: "learned-duration",
    score(request, nodes, n, out) {
      const out100 = env.fleet.expectedOutput(request) / 100;
      const prompt1k = (Math.max(0, request.promptTokens) || 0) / 1000;
      let best = Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const node = nodes[i] as NodeSnapshot;
        // θ lives on the record (its hot copy), so this is one object per node, not four.
        const rec = env.fleet.recordAt(i, node).hot(request.model, true);
        const batch = Math.max(activeRequests(node), rec.jobs) + 1;
        const predicted = rec.a0 + rec.a1 * prompt1k + rec.a2 * out100 + rec.a3 * out100 * batch;
        // A regression can extrapolate below zero; no job takes less than a millisecond.
        const ms = Number.isFinite(predicted) ? Math.max(1, predicted) : 1e12;
        out[i] = ms;
        if (ms < best) best = ms;
      }
      for (let i = 0; i < n; i++) out[i] = best / (out[i] as number);
    },
  };
}
