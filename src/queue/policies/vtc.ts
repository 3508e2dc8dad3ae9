import type { QueuePolicy } from "./policy.js";
import { createVirtualCounterPolicy } from "./virtual-counter.js";

/**
 * Virtual Token Counter (Sheng et al., "Fairness in Serving Large Language Models", OSDI '24): the
 * counter advances by tokens / weight, so users get equal token service whatever their request sizes.
 * A dispatch charges the item's estimated cost at once (so a burst of dispatches cannot all go to one
 * user before any finishes); charge(actual) later replaces one outstanding estimate with the actual.
 */
export function createVtcPolicy(weightOf: (userId: string) => number): QueuePolicy {
  return createVirtualCounterPolicy({
    name: "vtc",
    weightOf,
    dispatchCost: (estimate) => estimate,
    settles: true,
  });
}
