import { finiteOr } from "../node-figures.js";
import { MAX_SCORE_TIE } from "../pickers/max-score.js";
import type { Scorer } from "../pipeline.js";
import type { PluginEnv, PluginParams } from "../plugin-kit.js";
import { boolParam, numParam } from "../plugin-kit.js";
import {
  boundRows,
  PredictionBatch,
  predictOne,
  predictRows,
  RequestFigures,
} from "../state/latency-model.js";
import { blockKeys } from "../state/prefix-index.js";
import type { SelectionRequest } from "../types.js";

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
  // (At most 1, which boundRows' bound relies on: the discount can only make more prompt uncached.)
  figures.kvDiscount = 0.5;
  const batch = new PredictionBatch();

  /** The request's side of the prediction, and the prefix match, once per decision. */
  const prepare = (request: SelectionRequest, n: number) => {
    batch.reserve(n);
    const fleet = env.fleet;
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
    figures.modelId = fleet.table.modelId(request.model);
  };

  return {
    name: "predicted-latency",
    score(request, nodes, n, out, slots) {
      prepare(request, n);
      const fleet = env.fleet;
      const best = predictRows(fleet.table, fleet, nodes, n, slots, figures, batch);
      const objective = batch.objective;
      for (let i = 0; i < n; i++) {
        const v = objective[i] as number;
        out[i] = v > 0 ? best / v : 1;
      }
    },
    // Branch and bound for the max-score pick: boundRows finds the least objective from cheap
    // lower bounds, and a node is predicted in full, and kept for the picker, only if the picker
    // could pick it, tie with it or take the lead with it (its score's upper bound, best ÷ its
    // bound, does not trail the picker's running best). Picks and tie-breaks are score()'s
    // (test/unit/selector/differential.test.ts).
    scoreForMaxPick(request, nodes, n, out, slots, weight, kept) {
      prepare(request, n);
      const fleet = env.fleet;
      const table = fleet.table;
      const best = boundRows(table, fleet, nodes, n, slots, figures, batch);
      const { lower, exact, objective } = batch;
      const tie = MAX_SCORE_TIE;
      let lead = Number.NEGATIVE_INFINITY; // the picker's running best, as it will see the scores
      // A bound above this cannot reach lead - tie: best ÷ bound is the most the node can score.
      // The running best only changes at a kept node, so the others cost one comparison; the
      // ceiling gives up 1e-12 of itself against a few ulps of rounding.
      let ceiling = Number.POSITIVE_INFINITY;
      let m = 0;
      for (let i = 0; i < n; i++) {
        const bound = lower[i] as number;
        if (bound > ceiling) continue;
        const most = bound > 0 ? best / bound : 1; // no better score is possible for this node
        if (weight * (most >= 0 ? Math.min(most, 1) : 0) < lead - tie) continue;
        const v =
          exact[i] === 1
            ? (objective[i] as number)
            : predictOne(table, fleet, nodes, i, slots, figures, batch);
        const s = v > 0 ? best / v : 1;
        out[m] = s;
        kept[m++] = i;
        const seen = weight * (s >= 0 ? Math.min(s, 1) : 0); // the runner's clamp (clampScore)
        if (seen > lead + tie) {
          lead = seen;
          if (lead - tie > 0 && best > 0) ceiling = ((best * weight) / (lead - tie)) * (1 + 1e-12);
        }
      }
      return m;
    },
    reason: (index) => ((batch.cachedTokens[index] as number) > 0 ? "prefix_hit" : undefined),
  };
}
