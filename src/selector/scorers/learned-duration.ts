import type { NodeSnapshot } from "../../nodes/types.js";
import { activeRequests } from "../node-figures.js";
import type { Scorer } from "../pipeline.js";
import type { PluginEnv } from "../plugin-kit.js";
import type { FleetState } from "../state/fleet-state.js";

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
      const out100 = fleet.expectedOutput(request) / 100;
      const prompt1k = (Math.max(0, request.promptTokens) || 0) / 1000;
      const model = request.model;
      const best = predictDurations(
        fleet,
        model,
        fleet.table.modelId(model),
        nodes,
        n,
        slots,
        prompt1k,
        out100,
        out,
      );
      for (let i = 0; i < n; i++) out[i] = best / (out[i] as number);
    },
  };
}

/**
 * Each candidate's predicted duration (ms, at least 1) into `out`; returns the least. θ lives
 * in the record's table row (its hot copy): a few dense arrays, not four objects.
 *
 * A node whose row is bound by ordinal and current and needs no reconciling takes the inner
 * loop, which calls nothing (V8 then keeps the arrays in registers rather than reloading them
 * after every call that could have replaced them); any other leaves it for the general path
 * (FleetState.indexAt, hotAt), in candidate order, and the loop resumes after it.
 */
function predictDurations(
  fleet: FleetState,
  model: string,
  modelId: number,
  nodes: readonly NodeSnapshot[],
  n: number,
  slots: Int32Array,
  prompt1k: number,
  out100: number,
  out: Float64Array,
): number {
  const t = fleet.table;
  // At most n records are created below: room for them first, so the arrays stay the table's.
  t.reserve(n);
  const { jobs, hotModel, a0, a1, a2, a3 } = t;
  let best = Number.POSITIVE_INFINITY;
  let i = 0;
  while (i < n) {
    const slotGen = fleet.slotGen;
    const slotIx = fleet.slotIx;
    for (; i < n; i++) {
      const node = nodes[i] as NodeSnapshot;
      const o = node.ordinal;
      if (!(o !== undefined && o >= 0 && o < slotGen.length && slotGen[o] === node.generation)) break;
      const ix = slotIx[o] as number;
      const inFlight = node.inFlight;
      if ((jobs[ix] as number) > inFlight && Number.isFinite(inFlight)) break;
      // FleetState.hotAt's test: the model's hot copy, with θ loaded.
      if (hotModel[ix] !== modelId || Number.isNaN(a0[ix] as number)) break;
      const batch = Math.max(activeRequests(node), jobs[ix] as number) + 1;
      const predicted =
        (a0[ix] as number) +
        (a1[ix] as number) * prompt1k +
        (a2[ix] as number) * out100 +
        (a3[ix] as number) * out100 * batch;
      // A regression can extrapolate below zero; no job takes less than a millisecond.
      const ms = Number.isFinite(predicted) ? Math.max(1, predicted) : 1e12;
      out[i] = ms;
      if (ms < best) best = ms;
    }
    if (i >= n) break;
    const node = nodes[i] as NodeSnapshot;
    const ix = fleet.indexAt(slots[i] as number, node);
    fleet.hotAt(ix, modelId, model, true);
    const batch = Math.max(activeRequests(node), jobs[ix] as number) + 1;
    const predicted =
      (a0[ix] as number) +
      (a1[ix] as number) * prompt1k +
      (a2[ix] as number) * out100 +
      (a3[ix] as number) * out100 * batch;
    const ms = Number.isFinite(predicted) ? Math.max(1, predicted) : 1e12;
    out[i] = ms;
    if (ms < best) best = ms;
    i++;
  }
  return best;
}
