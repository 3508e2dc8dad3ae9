import type { Picker } from "../pipeline.js";
import type { PluginParams } from "../plugin-kit.js";
import { boolParam } from "../plugin-kit.js";

const EPSILON = 1e-9;
const WRAP = 2 ** 31;

/**
 * Round robin as the seed implements it: a counter taken modulo the candidate count
 * (`round_robin_index.fetch_add(1) % len`). With `topOnly`, it rotates among the candidates that
 * share the best score only — seed 000 level 3, "capability order + round robin": the most
 * capable nodes take turns, weaker ones are used once those are full.
 */
export function createRoundRobinPicker(params?: PluginParams): Picker {
  const topOnly = boolParam(params, "topOnly", false);
  let cursor = 0;
  return {
    name: topOnly ? "round-robin-top" : "round-robin",
    usesScores: topOnly,
    pick(_request, _nodes, n, scores) {
      if (n === 0) return -1;
      const turn = cursor;
      cursor = cursor + 1 >= WRAP ? 0 : cursor + 1;
      if (!topOnly) return turn % n;
      let best = Number.NEGATIVE_INFINITY;
      let count = 0;
      for (let i = 0; i < n; i++) {
        const s = scores[i] as number;
        if (s > best + EPSILON) {
          best = s;
          count = 1;
        } else if (s >= best - EPSILON) count++;
      }
      let target = turn % count;
      for (let i = 0; i < n; i++) {
        if ((scores[i] as number) >= best - EPSILON && target-- === 0) return i;
      }
      return -1;
    },
  };
}
