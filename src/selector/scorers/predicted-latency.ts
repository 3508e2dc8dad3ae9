import type { NodeSnapshot } from "../../nodes/types.js";
import { engineUsable, finiteOr } from "../node-figures.js";
import type { Scorer } from "../pipeline.js";
import type { PluginEnv, PluginParams } from "../plugin-kit.js";
import { boolParam, ensureLength, numParam } from "../plugin-kit.js";
import { KV_HIGH, type LatencyPrediction, predictLatency } from "../state/latency-model.js";
import { blockKeys } from "../state/prefix-index.js";

/**
 * gpu_aware: predicts this request's TTFT and completion time on every candidate from live state
 * and learned speeds (state/latency-model.ts) and scores best / own objective, where
 * objective = completion + `ttftWeight` × TTFT (default 1: first-token latency counts twice,
 * it is what interactive users feel). With `affinity`, a node holding the request's longest
 * cached prefix has that part's prefill removed from its prediction — halved when its KV cache
 * is under pressure (the blocks may be evicted before we arrive). Queue and batch terms stay,
 * so a hit on an overloaded node still loses to an idle one.
 */
export function createPredictedLatencyScorer(params: PluginParams | undefined, env: PluginEnv): Scorer {
  const ttftWeight = Math.max(0, numParam(params, "ttftWeight", 1));
  const affinity = boolParam(params, "affinity", true);
  const prediction: LatencyPrediction = { ttftMs: 0, totalMs: 0, waitMs: 0 };
  let cached: Float64Array = new Float64Array(64);
  return {
    name: "predicted-latency",
    score(request, nodes, n, out) {
      cached = ensureLength(cached, n);
      const fleet = env.fleet;
      const now = env.now();
      const index = affinity ? fleet.prefixes : undefined;
      let epoch = Number.NaN; // NaN never equals a holder's epoch: no match this call
      if (
        index !== undefined &&
        request.prefixHashes.length > 0 &&
        index.match(blockKeys(request.prefixHashes)) > 0
      ) {
        epoch = index.currentEpoch;
      }
      const prompt = Math.max(0, finiteOr(request.promptTokens, 0));
      const expected = fleet.expectedOutput(request);
      let best = Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const node = nodes[i] as NodeSnapshot;
        const rec = fleet.recordAt(i, node);
        let hit = rec.matchEpoch === epoch ? fleet.cachedTokens(request, rec.matched) : 0;
        if (hit > 0 && engineUsable(node) && finiteOr(node.engine?.kvCacheUsage, 0) > KV_HIGH) hit *= 0.5;
        const p = predictLatency(
          rec,
          node,
          rec.hot(request.model, false),
          prompt,
          hit,
          expected,
          now,
          prediction,
        );
        const objective = p.totalMs + ttftWeight * p.ttftMs;
        out[i] = objective;
        cached[i] = hit;
        if (objective < best) best = objective;
      }
      for (let i = 0; i < n; i++) {
        const v = out[i] as number;
        out[i] = v > 0 ? best / v : 1;
      }
    },
    reason: (index) => ((cached[index] as number) > 0 ? "prefix_hit" : undefined),
  };
}
