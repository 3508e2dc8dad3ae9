import type { QueuePolicy } from "./policy.js";

/**
 * Seed 002's round robin: every key is 0, so the core's stamps alone order users — least recently
 * served first. A served user gets a fresh stamp (back of the ring); a user who starts waiting takes
 * back the stamp of its last service, or joins at the back if the core does not remember it. The
 * policy itself keeps nothing per user.
 */
export function createRoundRobinPolicy(): QueuePolicy {
  return {
    name: "round_robin",
    backlogged: () => 0,
    dispatched: () => 0,
    requeued: () => 0,
    idle: () => {},
    charge: () => 0,
    accounts: () => 0,
  };
}
