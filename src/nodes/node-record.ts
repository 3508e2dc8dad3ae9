import { nextNodeGeneration } from "./node-ordinals.js";
import type { EngineLive, GpuFacts, GpuLive, NodeLabels, NodeSnapshot, NodeState } from "./types.js";

/** One heartbeat's figures as kept in a node's history (seed 000: last 10 points). */
export interface HistoryPoint {
  readonly atMs: number;
  readonly gpuUsagePercent?: number;
  readonly vramUsagePercent?: number;
  readonly kvCacheUsage?: number;
  readonly runningRequests?: number;
  readonly waitingRequests?: number;
  readonly inFlight: number;
}

/** Static registration facts that are not needed for selection but shown to operators. */
export interface NodeIdentity {
  hostname: string;
  agentVersion: string;
  engineKind: string;
  engineVersion: string;
  gpuSource: string;
  gpuNote: string;
}

const HISTORY_POINTS = 10;
// Weight of the newest sample in the response-time EWMA (≈ the last 10 jobs dominate).
const EWMA_ALPHA = 0.2;

/**
 * The control plane's live record of a node. It implements NodeSnapshot directly, with getters that
 * hide signals older than the freshness bound, so selection reads it without copying anything.
 */
export class NodeRecord implements NodeSnapshot {
  state: NodeState = "connecting";
  models: Set<string> = new Set();
  /** Canonical model ids (without aliases), for /v1/models. */
  modelIds: string[] = [];
  gpus: GpuFacts[] = [];
  labels: NodeLabels = { region: "", tier: "" };
  maxConcurrency = 1;
  inFlight = 0;
  totalRequests = 0;
  completed = 0;
  failed = 0;
  lastSeenMs: number;
  /** Unix ms of the last job dispatched here (seed 004 "last_used"); undefined before the first. */
  lastDispatchedMs: number | undefined;
  registeredAtMs: number;
  offlineSinceMs: number | undefined;
  identity: NodeIdentity = {
    hostname: "",
    agentVersion: "",
    engineKind: "",
    engineVersion: "",
    gpuSource: "",
    gpuNote: "",
  };
  gpuLive: GpuLive[] = [];
  engineLive: EngineLive | undefined;
  hostCpuPercent: number | undefined;
  hostMemoryPercent: number | undefined;
  /** Unix ms of the newest GPU / engine readings (sent time minus their age). */
  gpuAtMs = 0;
  engineAtMs = 0;
  readonly history: HistoryPoint[] = [];
  private sumResponseMs = 0;
  ewmaResponseMs: number | undefined;
  lastResponseMs: number | undefined;
  /** Recent routing reasons, newest last, for the dashboard. */
  readonly recentReasons: string[] = [];

  /**
   * Unique in the process, replaced by each registration (NodeStore.announce), as `gpus` and
   * `labels` may be then (see NodeSnapshot.generation).
   */
  generation: number = nextNodeGeneration();

  /**
   * `ordinal` is the store's dense handle for the node (NodeSnapshot.ordinal, NodeOrdinals);
   * -1 for a record no store holds, which per-node tables then key by something else.
   */
  constructor(
    readonly id: string,
    private readonly staleMs: number,
    private readonly clock: () => number,
    readonly ordinal: number = -1,
  ) {
    this.lastSeenMs = clock();
    this.registeredAtMs = this.lastSeenMs;
  }

  private fresh(atMs: number): boolean {
    return this.clock() - atMs <= this.staleMs;
  }

  /** Mean GPU utilisation across GPUs that report it; undefined when none does or it is stale. */
  get gpuUsagePercent(): number | undefined {
    if (!this.fresh(this.gpuAtMs)) return undefined;
    return mean(this.gpuLive, (g) => g.utilizationPercent);
  }

  /** VRAM used / total across GPUs that report both; undefined when unknown or stale. */
  get vramUsagePercent(): number | undefined {
    if (!this.fresh(this.gpuAtMs)) return undefined;
    let used = 0;
    let total = 0;
    for (const g of this.gpuLive) {
      const t = g.vramTotalMib ?? this.gpus.find((f) => f.index === g.index)?.vramTotalMib;
      if (g.vramUsedMib === undefined || !t) continue;
      used += g.vramUsedMib;
      total += t;
    }
    return total > 0 ? (used / total) * 100 : undefined;
  }

  /** Per-GPU live figures, or none when they are stale (so operators never see old readings as current). */
  get gpuFresh(): readonly GpuLive[] {
    return this.fresh(this.gpuAtMs) ? this.gpuLive : [];
  }

  /** Engine signals, or undefined when stale. */
  get engine(): EngineLive | undefined {
    return this.engineLive && this.fresh(this.engineAtMs) ? this.engineLive : undefined;
  }

  get avgResponseMs(): number | undefined {
    return this.completed > 0 ? this.sumResponseMs / this.completed : undefined;
  }

  /** Accepting new jobs: online and the engine not known to be unhealthy. */
  get schedulable(): boolean {
    return this.state === "online" && this.engineLive?.healthy !== false;
  }

  /** Records a finished job's end-to-end time. */
  recordResponse(ms: number, ok: boolean): void {
    if (!ok) {
      this.failed++;
      return;
    }
    this.completed++;
    this.sumResponseMs += ms;
    this.lastResponseMs = ms;
    this.ewmaResponseMs =
      this.ewmaResponseMs === undefined ? ms : this.ewmaResponseMs + EWMA_ALPHA * (ms - this.ewmaResponseMs);
  }

  /** Appends a routing reason to the bounded recent list. */
  recordReason(reason: string): void {
    this.recentReasons.push(reason);
    if (this.recentReasons.length > 20) this.recentReasons.shift();
  }

  /** Appends the current figures to the bounded history. */
  pushHistory(): void {
    const e = this.engine;
    const point: HistoryPoint = {
      atMs: this.clock(),
      inFlight: this.inFlight,
      ...opt("gpuUsagePercent", this.gpuUsagePercent),
      ...opt("vramUsagePercent", this.vramUsagePercent),
      ...opt("kvCacheUsage", e?.kvCacheUsage),
      ...opt("runningRequests", e?.runningRequests),
      ...opt("waitingRequests", e?.waitingRequests),
    };
    this.history.push(point);
    if (this.history.length > HISTORY_POINTS) this.history.shift();
  }
}

/** `{key: value}` when value is defined, else `{}` — for exactOptionalPropertyTypes. */
export function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function mean<T>(items: readonly T[], pick: (t: T) => number | undefined): number | undefined {
  let sum = 0;
  let n = 0;
  for (const it of items) {
    const v = pick(it);
    if (v === undefined || !Number.isFinite(v)) continue;
    sum += v;
    n++;
  }
  return n > 0 ? sum / n : undefined;
}
