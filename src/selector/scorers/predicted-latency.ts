import { finiteOr } from "../node-figures.js";
import type { Scorer } from "../pipeline.js";
import type { PluginEnv, PluginParams } from "../plugin-kit.js";
import { boolParam, numParam } from "../plugin-kit.js";
import { PredictionBatch, predictRows, RequestFigures } from "../state/latency-model.js";
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
  const figures = new RequestFigures();
  figures.ttftWeight = ttftWeight;
  figures.fromIndex = true;
  // A hit on a node whose KV cache is under pressure counts half: its blocks may be gone by then.
  figures.kvDiscount = 0.5;
  const batch = new PredictionBatch();
  return {
    name: "predicted-latency",
    score(request, nodes, n, out, slots) {
      batch.reserve(n);
      const fleet = env.fleet;
      const table = fleet.table;
      const index = affinity ? fleet.prefixes : undefined;
      let epoch = Number.NaN; // NaN never equals a holder's epoch: no match this call
      if (
        index !== undefined &&
        request.prefixHashes.length > 0 &&
        index.match(blockKeys(request.prefixHashes)) > 0
      ) {
        epoch = index.currentEpoch;
      }
      figures.promptTokens = Math.max(0, finiteOr(request.promptTokens, 0));
      figures.expectedOutput = fleet.expectedOutput(request);
      figures.now = env.now();
      figures.matchEpoch = epoch;
      figures.blockTokens = fleet.blockTokens(request); // FleetState.cachedTokens, once per call
      figures.model = request.model;
      figures.modelId = table.modelId(request.model);
      const best = predictRows(table, fleet, nodes, n, slots, figures, batch);
      const objective = batch.objective;
      for (let i = 0; i < n; i++) {
        const v = objective[i] as number;
        out[i] = v > 0 ? best / v : 1;
      }
    },
    reason: (index) => ((batch.cachedTokens[index] as number) > 0 ? "prefix_hit" : undefined),
  };
}
