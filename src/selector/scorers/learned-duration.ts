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
    score(request, nodes, n, out, slots) {
      const fleet = env.fleet;
      const t = fleet.table;
      const out100 = fleet.expectedOutput(request) / 100;
      const prompt1k = (Math.max(0, request.promptTokens) || 0) / 1000;
      const model = request.model;
      const modelId = t.modelId(model);
      let best = Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const node = nodes[i] as NodeSnapshot;
        // θ lives in the record's table row (its hot copy): a few dense arrays, not four objects.
        const ix = fleet.indexAt(slots[i] as number, node);
        fleet.hotAt(ix, modelId, model, true);
        const batch = Math.max(activeRequests(node), t.jobs[ix] as number) + 1;
        const predicted =
          (t.a0[ix] as number) +
          (t.a1[ix] as number) * prompt1k +
          (t.a2[ix] as number) * out100 +
          (t.a3[ix] as number) * out100 * batch;
        // A regression can extrapolate below zero; no job takes less than a millisecond.
        const ms = Number.isFinite(predicted) ? Math.max(1, predicted) : 1e12;
        out[i] = ms;
        if (ms < best) best = ms;
      }
      for (let i = 0; i < n; i++) out[i] = best / (out[i] as number);
    },
  };
}
