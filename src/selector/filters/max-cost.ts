import type { NodeSnapshot } from "../../nodes/types.js";
import { costPerHour } from "../node-figures.js";
import type { Filter } from "../pipeline.js";

/**
 * Seed 003 cost_aware budget: keeps nodes whose `costPerHourUsd` label is within
 * `request.requirements.maxCostPerHourUsd`. A node without a price passes (it cannot be shown
 * to exceed the budget); a request without a budget keeps every node.
 */
export function createMaxCostFilter(): Filter {
  return {
    name: "max-cost",
    filter(request, input, n, output) {
      const max = request.requirements?.maxCostPerHourUsd;
      const budget = max !== undefined && Number.isFinite(max) ? max : Number.POSITIVE_INFINITY;
      let m = 0;
      for (let i = 0; i < n; i++) {
        const node = input[i] as NodeSnapshot;
        const cost = costPerHour(node);
        if (cost === undefined || cost <= budget) output[m++] = node;
      }
      return m;
    },
  };
}
