import type { NodeSnapshot } from "../../nodes/types.js";
import { responseTimeOf } from "../node-figures.js";
import type { Scorer } from "../pipeline.js";
import type { PluginEnv } from "../plugin-kit.js";
import { ensureLength } from "../plugin-kit.js";

/**
 * Seed 004 least_response_time: lowest EWMA response time wins (the node store's EWMA, else our
 * own from outcomes). Untried nodes score 1 and tried ones at most 0.5 × (fastest / own), so a
 * new node gets traffic before any measured one — otherwise it could never be measured.
 */
export function createResponseTimeScorer(_params: unknown, env: PluginEnv): Scorer {
  let untried: Float64Array = new Float64Array(64);
  return {
    name: "response-time",
    score(_request, nodes, n, out, slots) {
      untried = ensureLength(untried, n);
      let min = Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const node = nodes[i] as NodeSnapshot;
        // All numbers, NaN for unknown: a loop that mixes `undefined` into a figure boxes it.
        let ms = responseTimeOf(node);
        if (Number.isNaN(ms)) ms = env.fleet.ewmaMsAt(slots[i] as number, node);
        const none = Number.isNaN(ms);
        untried[i] = none ? 1 : 0;
        out[i] = none ? 0 : ms;
        if (ms < min) min = ms;
      }
      for (let i = 0; i < n; i++) {
        const ms = out[i] as number;
        out[i] = untried[i] === 1 ? 1 : ms <= 0 ? 0.5 : 0.5 * (min / ms);
      }
    },
    reason: (index) => (untried[index] === 1 ? "untried_node" : undefined),
  };
}
