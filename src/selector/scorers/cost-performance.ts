import type { NodeSnapshot } from "../../nodes/types.js";
import { slotLoad } from "../node-figures.js";
import type { Scorer } from "../pipeline.js";
import type { PluginEnv } from "../plugin-kit.js";
import { ensureLength } from "../plugin-kit.js";
import type { NodeFacts } from "../state/node-facts.js";

/** Price floor ($/h): free or mislabelled nodes must not divide by zero and win everything. */
const MIN_COST = 0.01;

/** Throughput per $/h; 0 when that is not a finite number. */
function valueFor(throughput: number, costPerHour: number): number {
  const value = throughput / Math.max(MIN_COST, costPerHour);
  return Number.isFinite(value) ? value : 0;
}

/**
 * Imputes a price for nodes without a `costPerHourUsd` label: the mean of the labelled
 * candidates, or $1/h when none is labelled (then price is constant and performance decides).
 * Leaves every candidate's facts loaded, so callers read `facts.costPerHour[slot]` after it.
 */
export function meanKnownCost(
  facts: NodeFacts,
  nodes: readonly NodeSnapshot[],
  n: number,
  slots: Int32Array,
): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const c = facts.costAt(slots[i] as number, nodes[i] as NodeSnapshot);
    if (!Number.isNaN(c)) {
      sum += c;
      count++;
    }
  }
  return count > 0 ? sum / count : 1;
}

/**
 * Seed 003 cost_aware: best performance per cost. Performance is the decode throughput this
 * request can expect (tokens/s from the node's learned or prior decode speed for the model,
 * shared with the jobs already in its slots); cost is $/h. Score = value / best value.
 */
export function createCostPerformanceScorer(_params: unknown, env: PluginEnv): Scorer {
  let priced: Float64Array = new Float64Array(64);
  return {
    name: "cost-performance",
    score(request, nodes, n, out, slots) {
      const fleet = env.fleet;
      const facts = fleet.facts;
      const table = fleet.table;
      // One pass reads the nodes: a priced node gets its value there; an unpriced one keeps its
      // throughput, and a mark in `priced`, until the mean known price (meanKnownCost, fused)
      // is known. Its value is monotone in the throughput, so the best of them is at the highest
      // one, and the second pass can already normalise.
      const model = request.model;
      const modelId = table.modelId(model);
      priced = ensureLength(priced, n);
      let sum = 0;
      let count = 0;
      let best = 0;
      let fastest = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const node = nodes[i] as NodeSnapshot;
        const slot = slots[i] as number;
        const ix = fleet.indexAt(slot, node);
        fleet.hotAt(ix, modelId, model, false);
        const decodeMs = table.decodeMsPerToken[ix] as number;
        const throughput = 1000 / (decodeMs * (1 + slotLoad(node)));
        const c = facts.costAt(slot, node);
        if (!Number.isNaN(c)) {
          sum += c;
          count++;
          const value = valueFor(throughput, c);
          out[i] = value;
          priced[i] = 1;
          if (value > best) best = value;
        } else {
          out[i] = throughput;
          priced[i] = 0;
          if (throughput > fastest && throughput < Number.POSITIVE_INFINITY) fastest = throughput;
        }
      }
      const fallbackCost = count > 0 ? sum / count : 1;
      if (count < n) {
        const value = valueFor(fastest, fallbackCost);
        if (value > best) best = value;
      }
      for (let i = 0; i < n; i++) {
        const v = priced[i] === 1 ? (out[i] as number) : valueFor(out[i] as number, fallbackCost);
        out[i] = best > 0 ? v / best : 1;
      }
    },
  };
}
