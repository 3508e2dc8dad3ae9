import type { JobOutcome, NodeSnapshot } from "../nodes/types.js";

/** What a strategy knows about the request being placed. */
export interface SelectionRequest {
  readonly model: string;
  readonly userId: string;
  /** Estimated prompt tokens (chars / 4 when no tokenizer). */
  readonly promptTokens: number;
  /** Requested max output tokens (or a default estimate). */
  readonly maxTokens: number;
  /** Hashes of the prompt's leading fixed-size blocks, for prefix affinity. */
  readonly prefixHashes: readonly bigint[];
  /** Optional seed-003 style requirements, e.g. { gpuMemoryGb: 16 }. */
  readonly requirements?: {
    readonly gpuMemoryGb?: number;
    readonly maxLatencyMs?: number;
    readonly maxCostPerHourUsd?: number;
  };
}

/** A strategy's answer: the node and a short machine-readable reason ("lowest_gpu", "prefix_hit", …). */
export interface Selection {
  readonly node: NodeSnapshot;
  readonly reason: string;
}

/**
 * A named node-selection strategy. `select` receives only candidates that are online, serve the model
 * and have a free slot; returning undefined means "busy, not broken" (the request waits in the queue).
 */
export interface Strategy {
  readonly name: string;
  select(request: SelectionRequest, candidates: readonly NodeSnapshot[]): Selection | undefined;
  /** Called when a job is dispatched to a node (for affinity indexes and in-flight predictions). */
  onDispatch?(request: SelectionRequest, nodeId: string): void;
  /** Called when a job ends, for online learning. */
  onOutcome?(outcome: JobOutcome): void;
  /** Called when a node leaves for good, so per-node state is freed. */
  onNodeRemoved?(nodeId: string): void;
}
