import type { QueuePolicy } from "./policy.js";

/**
 * Seed 002's round robin: every key is 0, so the core's stamps alone order users. A served user gets
 * a fresh stamp (back of the ring) and a user who starts waiting joins at the back. Remembers nothing
 * per user, so an idle user leaves no trace.
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
