/** One waiting request, as the queue sees it. The scheduler's own job type extends this. */
export interface QueueItem {
  readonly id: string;
  readonly userId: string;
  readonly model: string;
  /** Estimated token cost (prompt + max output), what VTC charges at dispatch. */
  readonly cost: number;
  readonly enqueuedAtMs: number;
}

/** The fairness policies a FairQueue can run. */
export type QueuePolicyName = "round_robin" | "weighted" | "vtc";

/** Construction options of a FairQueue. */
export interface FairQueueOptions {
  policy: QueuePolicyName;
  /** Most items one user may have waiting; push answers `user_queue_full` beyond it. */
  maxPerUser: number;
  /** Most items waiting in all; push answers `queue_full` beyond it. */
  maxTotal: number;
  /** Weighted / VTC share per user; default 1. Non-finite or non-positive answers count as 1. */
  weightOf?: (userId: string) => number;
  /** Clock for snapshot wait times; default Date.now. */
  now?: () => number;
}

/** Outcome of push: admitted, or which bound refused it. */
export type AdmitResult = { ok: true } | { ok: false; reason: "user_queue_full" | "queue_full" };

/** What is waiting, for the admin API and metrics. */
export interface QueueSnapshot {
  total: number;
  users: { userId: string; depth: number; byModel: Record<string, number>; oldestWaitMs: number }[];
  oldestWaitMs: number;
}

/** Sizes of the queue's internal structures, so tests can prove nothing leaks. */
export interface QueueDebugCounts {
  /** Items indexed by id. */
  items: number;
  /** Users with at least one waiting item. */
  users: number;
  /** Users in the ordering heap (must equal `users`). */
  userHeap: number;
  /** Non-empty (user, model) FIFOs. */
  lanes: number;
  /** Models with at least one waiting item. */
  models: number;
  /** Per-user records the policy remembers, idle users included (VTC/weighted counters). */
  policyAccounts: number;
}

/** A per-user fair queue of requests waiting for a free node slot. */
export interface FairQueue<T extends QueueItem> {
  /** Admit an item at the tail of its user's queue, within the per-user and global bounds. */
  push(item: T): AdmitResult;
  /** Re-queue a dispatched item (its node was lost before the first token) at the head of its user's queue; bypasses bounds. */
  pushFront(item: T): void;
  /** Take an item out (client gone, deadline passed); undefined when it is not waiting. */
  remove(id: string): T | undefined;
  /** Next item by policy among models for which `canServe(model)` is true; undefined when none. */
  pop(canServe: (model: string) => boolean): T | undefined;
  /**
   * Record an item the scheduler dispatched at once because nothing was waiting, as push + pop
   * would have: its user is lifted and charged the estimate like any dispatch. Without it users
   * served straight away would run up counters the rest of the queue never sees (V would not move),
   * and the next user to arrive would be lifted far below them and take every slot until level.
   */
  dispatchedDirectly(item: T): void;
  /** Tell VTC what a served request actually cost (prompt + generated tokens) once known. */
  charge(userId: string, tokens: number): void;
  /** Items waiting in all. */
  readonly size: number;
  /** Items one user has waiting. */
  sizeOf(userId: string): number;
  /** Whether an item with this id is waiting. */
  has(id: string): boolean;
  /** What is waiting, per user and model, with wait times from `now`. O(n): admin/metrics path only. */
  snapshot(): QueueSnapshot;
  /** Internal structure sizes, for leak tests and diagnostics. */
  debugCounts(): QueueDebugCounts;
}
