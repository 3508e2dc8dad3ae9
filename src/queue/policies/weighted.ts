import type { QueuePolicy } from "./policy.js";
import { createVirtualCounterPolicy } from "./virtual-counter.js";

/**
 * Weighted round robin as stride scheduling: each dispatch advances the user's counter by 1/weight,
 * so over many pops backlogged users are served in proportion to their weights, request by request.
 */
export function createWeightedPolicy(weightOf: (userId: string) => number): QueuePolicy {
  return createVirtualCounterPolicy({ name: "weighted", weightOf, dispatchCost: () => 1, settles: false });
}
