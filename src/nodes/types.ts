/** Lifecycle of a node as DESIGN.md defines it. */
export type NodeState = "connecting" | "online" | "draining" | "offline";

/** Static facts about one GPU, from registration. */
export interface GpuFacts {
  readonly index: number;
  readonly uuid: string;
  readonly name: string;
  readonly vramTotalMib: number;
  /** "9.0" for an H100; "" when unknown. */
  readonly computeCapability: string;
  readonly driverVersion: string;
}

/** Live figures of one GPU. Undefined means unknown, never zero. */
export interface GpuLive {
  readonly index: number;
  readonly utilizationPercent?: number | undefined;
  readonly vramUsedMib?: number | undefined;
  readonly vramTotalMib?: number | undefined;
  readonly temperatureCelsius?: number | undefined;
  readonly powerWatts?: number | undefined;
}

/** The engine's own load signals. Undefined means unknown. */
export interface EngineLive {
  readonly healthy: boolean;
  readonly runningRequests?: number | undefined;
  readonly waitingRequests?: number | undefined;
  /** 0..1 */
  readonly kvCacheUsage?: number | undefined;
  /** 0..1 */
  readonly prefixCacheHitRate?: number | undefined;
}

/** Operator labels used by cost/region-aware strategies. */
export interface NodeLabels {
  readonly costPerHourUsd?: number | undefined;
  readonly region: string;
  readonly tier: string;
}

/**
 * What a strategy sees of a node at decision time. Figures that are missing or older than the
 * configured freshness bound are undefined here, so fallback levels apply (seed 000).
 */
export interface NodeSnapshot {
  readonly id: string;
  /**
   * A small integer ≥ 0 that no other live node of the same store holds (node-ordinals.ts),
   * reused after the node is forgotten: per-node tables index arrays by it. Absent on snapshots
   * that do not come from a store (tests); consumers then key by something else.
   */
  readonly ordinal?: number | undefined;
  /**
   * A number unique in the process (nextNodeGeneration), replaced whenever the node registers
   * (and so whenever `gpus` or `labels` is replaced): a table that saw it at an ordinal knows
   * that the ordinal has not passed to another node since, and that figures derived from the
   * registration still hold, without looking at those objects. Set with `ordinal`.
   */
  readonly generation?: number | undefined;
  readonly state: NodeState;
  /** Model ids and aliases the node serves. */
  readonly models: ReadonlySet<string>;
  readonly gpus: readonly GpuFacts[];
  readonly labels: NodeLabels;
  /** The node's own slot limit (engine concurrency or operator cap). */
  readonly maxConcurrency: number;
  /** Jobs the control plane has dispatched to this node and not yet seen finish. */
  readonly inFlight: number;
  /** Jobs ever dispatched to this node (seed 004 "total_connections"). */
  readonly totalRequests: number;
  /** Aggregate GPU utilisation across the node's GPUs, 0..100; undefined when unknown or stale. */
  readonly gpuUsagePercent?: number | undefined;
  /** Aggregate VRAM use across the node's GPUs, 0..100; undefined when unknown or stale. */
  readonly vramUsagePercent?: number | undefined;
  /** Engine signals; undefined when unknown or stale. */
  readonly engine?: EngineLive | undefined;
  /** Mean end-to-end time of completed jobs (ms); undefined before the first completion. */
  readonly avgResponseMs?: number | undefined;
  /** EWMA of end-to-end time of completed jobs (ms). */
  readonly ewmaResponseMs?: number | undefined;
  readonly lastResponseMs?: number | undefined;
  /** Unix ms of the last message from the node. */
  readonly lastSeenMs: number;
}

/** Per-job figures reported back to the selector when a job ends, for online learning. */
export interface JobOutcome {
  readonly nodeId: string;
  readonly model: string;
  readonly ok: boolean;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cachedPromptTokens: number;
  /** Time to first token as the control plane saw it (ms); undefined if none arrived. */
  readonly ttftMs?: number | undefined;
  /** Time from dispatch to the last chunk (ms). */
  readonly durationMs: number;
}
