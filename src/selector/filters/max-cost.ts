import { costPerHour } from "../node-figures.js";
import type { Filter } from "../pipeline.js";

/**
 * Seed 003 cost_aware budget: keeps nodes whose `costPerHourUsd` label is within
 * `request.requirements.maxCostPerHourUsd`. A node without a price passes (it cannot be shown
 * to exceed the budget); a request without a budget passes everywhere.
 */
export function createMaxCostFilter(): Filter {
  return {
    name: "max-cost",
    keep: (request, node) => {
      const max = request.requirements?.maxCostPerHourUsd;
      if (max === undefined || !Number.isFinite(max)) return true;
      const cost = costPerHour(node);
      return cost === undefined || cost <= max;
    },
  };
}
