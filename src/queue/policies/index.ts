import type { QueuePolicyName } from "../types.js";
import type { QueuePolicy } from "./policy.js";
import { createRoundRobinPolicy } from "./round-robin.js";
import { createVtcPolicy } from "./vtc.js";
import { createWeightedPolicy } from "./weighted.js";

/** Every queue policy name, round robin (the default) first. */
export const QUEUE_POLICY_NAMES: readonly QueuePolicyName[] = Object.freeze([
  "round_robin",
  "weighted",
  "vtc",
]);

/** Whether a string (from config or the admin API) names a queue policy. */
export function isQueuePolicyName(name: string): name is QueuePolicyName {
  return (QUEUE_POLICY_NAMES as readonly string[]).includes(name);
}

/** Build the policy object for a name. */
export function createQueuePolicy(name: QueuePolicyName, weightOf: (userId: string) => number): QueuePolicy {
  switch (name) {
    case "round_robin":
      return createRoundRobinPolicy();
    case "weighted":
      return createWeightedPolicy(weightOf);
    case "vtc":
      return createVtcPolicy(weightOf);
  }
}
