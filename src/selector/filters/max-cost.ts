import type { NodeSnapshot } from "../../nodes/types.js";
import type { Filter } from "../pipeline.js";
import type { PluginEnv } from "../plugin-kit.js";
import type { SelectionRequest } from "../types.js";

/** The request's budget ($/h), +Infinity when it states none. */
function budgetOf(request: SelectionRequest): number {
  const max = request.requirements?.maxCostPerHourUsd;
  return max !== undefined && Number.isFinite(max) ? max : Number.POSITIVE_INFINITY;
}

/**
 * Seed 003 cost_aware budget: keeps nodes whose `costPerHourUsd` label is within
 * `request.requirements.maxCostPerHourUsd`. A node without a price passes (it cannot be shown
 * to exceed the budget); a request without a budget keeps every node.
 */
export function createMaxCostFilter(_params: unknown, env: PluginEnv): Filter {
  return {
    name: "max-cost",
    keepsAll: (request) => budgetOf(request) === Number.POSITIVE_INFINITY,
    filter(request, input, n, output, slots, kept) {
      const budget = budgetOf(request);
      const facts = env.fleet.facts;
      let m = 0;
      for (let i = 0; i < n; i++) {
        const node = input[i] as NodeSnapshot;
        const slot = slots[i] as number;
        // The price is a registration fact, cached by candidate position.
        const cost = facts.costAt(slot, node);
        if (Number.isNaN(cost) || cost <= budget) {
          output[m] = node;
          kept[m++] = slot;
        }
      }
      return m;
    },
  };
}
