export { createFairQueue } from "./fair-queue.js";
export { jainIndex } from "./jain.js";
export { isQueuePolicyName, QUEUE_POLICY_NAMES } from "./policies/index.js";
export type {
  AdmitResult,
  FairQueue,
  FairQueueOptions,
  QueueDebugCounts,
  QueueItem,
  QueuePolicyName,
  QueueSnapshot,
} from "./types.js";
