import type { GpuFacts, NodeSnapshot } from "../../nodes/types.js";
import { OnlineRegression } from "./online-regression.js";
import type { PrefixHolder } from "./prefix-index.js";
import type { RecordTable } from "./record-table.js";
import { modelParamsB, speedPrior } from "./speed-prior.js";

/** A job the control plane dispatched to a node and has not yet seen finish. */
export interface PendingJob {
  /** Dispatch time (ms, the strategy's clock). */
  readonly at: number;
  readonly promptTokens: number;
  readonly expectedOutputTokens: number;
  /** Wait before prefill that was predicted at dispatch (ms); subtracted when learning prefill speed. */
  readonly predictedWaitMs: number;
  /** Sequences on the node right after this dispatch, this one included. */
  readonly batch: number;
}

/**
 * Clamped speed figures of a node for one model, read by predictions. Learned coefficients are
 * kept inside physical bounds so one odd outcome cannot produce negative or absurd times.
 */
export interface Speeds {
  overheadMs: number;
  prefillMsPerToken: number;
  decodeMsPerToken: number;
  decodeSlopeMs: number;
}

/** What a node has taught us about one model. */
export class ModelStats {
  /** TTFT − predicted wait ≈ θ₀ + θ₁ · (uncached prompt tokens / 1000). */
  readonly prefill: OnlineRegression;
  /** Decode ms per output token ≈ θ₀ + θ₁ · (sequences in the batch). */
  readonly decode: OnlineRegression;
  /** smart_adaptive: duration ≈ θ · [1, prompt/1000, out/100, out/100 · batch]; created on first use. */
  adaptive: OnlineRegression | undefined;
  private readonly speeds: Speeds = {
    overheadMs: 0,
    prefillMsPerToken: 0,
    decodeMsPerToken: 0,
    decodeSlopeMs: 0,
  };

  /** Seeds both learners from the first-principles prior for these GPUs and this model. */
  constructor(gpus: readonly GpuFacts[], model: string) {
    const prior = speedPrior(gpus, modelParamsB(model));
    const pf = prior.prefillMsPerToken * 1000;
    this.prefill = new OnlineRegression(
      [prior.overheadMs, pf],
      [(2 * prior.overheadMs) ** 2, (2 * pf) ** 2 + 1],
    );
    this.decode = new OnlineRegression(
      [prior.decodeMsPerToken, prior.decodeSlopeMs],
      [(2 * prior.decodeMsPerToken) ** 2, (2 * prior.decodeSlopeMs) ** 2 + 0.01],
    );
  }

  /** Bumped by every learning step; the cached `speeds` and a record's hot copy follow it. */
  version = 0;
  private speedsAt = -1;

  /** Learns a (features, value) sample into one of the regressions and bumps the version. */
  learn(model: OnlineRegression, x: ArrayLike<number>, y: number): void {
    if (model.learn(x, y)) this.version++;
  }

  /** Current speeds, clamped to sane ranges (same object every call: read, don't keep). */
  current(): Speeds {
    const s = this.speeds;
    if (this.version === this.speedsAt) return s;
    this.speedsAt = this.version;
    const [o = 0, pf = 0] = this.prefill.theta;
    const [d0 = 0, slope = 0] = this.decode.theta;
    s.overheadMs = clamp(o, 0, 60_000);
    s.prefillMsPerToken = clamp(pf / 1000, 1e-5, 1_000);
    s.decodeMsPerToken = clamp(d0, 0.01, 10_000);
    s.decodeSlopeMs = clamp(slope, 0, s.decodeMsPerToken);
    return s;
  }
}

function clamp(x: number, lo: number, hi: number): number {
  return x >= lo ? Math.min(x, hi) : lo; // NaN fails the comparison → lo
}

/**
 * Everything a strategy remembers about one node; also its entry in the prefix index.
 *
 * The figures every decision reads (job accounting, the hot copy of one model's speeds, WRR
 * weight, prefix-match scratch) live in its FleetState's RecordTable row `ix`, not on this
 * object: scoring 10,000 candidates then streams through a few dense arrays instead of chasing
 * one object and its boxed doubles per node (record-table.ts). The accessors below are for the
 * cold paths (dispatch, outcome, tests); hot loops index the table directly.
 */
export class NodeRecord implements PrefixHolder {
  readonly blocks = new Map<number, true>();
  /**
   * A snapshot of the node from select, for dispatch-time predictions: the one select last
   * picked, or the one it was first scored with (FleetState.selected / bind).
   */
  node: NodeSnapshot | undefined;
  readonly pending: PendingJob[] = [];
  dispatches = 0;
  private gpus: readonly GpuFacts[] = [];
  private readonly models = new Map<string, ModelStats>();
  private lastModel = "";
  private lastStats: ModelStats | undefined;

  /** A fresh record for node `id`, using row `ix` of `table`. */
  constructor(
    readonly id: string,
    readonly ix: number,
    private readonly table: RecordTable,
  ) {}

  /** Jobs dispatched and not yet finished, by our own accounting. */
  get jobs(): number {
    return this.table.jobs[this.ix] as number;
  }
  set jobs(v: number) {
    this.table.jobs[this.ix] = v;
  }
  get promptSum(): number {
    return this.table.promptSum[this.ix] as number;
  }
  set promptSum(v: number) {
    this.table.promptSum[this.ix] = v;
  }
  get outputSum(): number {
    return this.table.outputSum[this.ix] as number;
  }
  set outputSum(v: number) {
    this.table.outputSum[this.ix] = v;
  }
  /** When the node's prefill pipeline drains of the work we sent it (ms, virtual time). */
  get prefillFreeAt(): number {
    return this.table.prefillFreeAt[this.ix] as number;
  }
  set prefillFreeAt(v: number) {
    this.table.prefillFreeAt[this.ix] = v;
  }
  /** EWMA of our own observed durations (ms), for strategies when the snapshot has none. */
  get ewmaMs(): number | undefined {
    const v = this.table.ewmaMs[this.ix] as number;
    return Number.isNaN(v) ? undefined : v;
  }
  set ewmaMs(v: number | undefined) {
    this.table.ewmaMs[this.ix] = v ?? Number.NaN;
  }
  /** Smooth weighted round robin's running weight. */
  get swrrCurrent(): number {
    return this.table.swrr[this.ix] as number;
  }
  set swrrCurrent(v: number) {
    this.table.swrr[this.ix] = v;
  }
  get matched(): number {
    return this.table.matched[this.ix] as number;
  }
  set matched(v: number) {
    this.table.matched[this.ix] = v;
  }
  get matchEpoch(): number {
    return this.table.matchEpoch[this.ix] as number;
  }
  set matchEpoch(v: number) {
    this.table.matchEpoch[this.ix] = v;
  }

  /**
   * Records the latest snapshot. A real change of GPUs (re-registration with other hardware)
   * resets what was learned; learning from before the GPUs were first seen is kept.
   */
  observe(node: NodeSnapshot): void {
    this.node = node;
    if (node.gpus !== this.gpus) {
      if (this.gpus.length > 0 && !sameGpus(this.gpus, node.gpus)) this.resetModels();
      this.gpus = node.gpus;
    }
  }

  /** Learned stats for a model, created from the prior on first use. */
  statsFor(model: string): ModelStats {
    if (model === this.lastModel && this.lastStats !== undefined) return this.lastStats;
    let stats = this.models.get(model);
    if (stats === undefined) {
      stats = new ModelStats(this.gpus, model);
      this.models.set(model, stats);
    }
    this.lastModel = model;
    this.lastStats = stats;
    return stats;
  }

  /**
   * Loads the table row's hot copy with `model`'s clamped speeds (and smart_adaptive's θ when
   * `adaptive`); `modelId` is the table's id for `model`.
   */
  loadHot(model: string, modelId: number, adaptive: boolean): void {
    const t = this.table;
    const ix = this.ix;
    const fresh = this.statsFor(model);
    const s = fresh.current();
    t.overheadMs[ix] = s.overheadMs;
    t.prefillMsPerToken[ix] = s.prefillMsPerToken;
    t.decodeMsPerToken[ix] = s.decodeMsPerToken;
    t.decodeSlopeMs[ix] = s.decodeSlopeMs;
    if (adaptive) {
      fresh.adaptive ??= createAdaptiveModel(fresh);
      const theta = fresh.adaptive.theta;
      t.a0[ix] = theta[0] as number;
      t.a1[ix] = theta[1] as number;
      t.a2[ix] = theta[2] as number;
      t.a3[ix] = theta[3] as number;
    } else t.a0[ix] = Number.NaN;
    t.hotModel[ix] = modelId;
  }

  /** Marks the hot copy stale: learning changed the speeds (the only writer is FleetState.outcome). */
  invalidateHot(): void {
    this.table.hotModel[this.ix] = -1;
  }

  /**
   * Removes and returns the pending job dispatched closest to `dispatchedAt` (outcomes carry no
   * job id, but dispatch time = now − duration). The list stays in dispatch order.
   */
  takePending(dispatchedAt: number): PendingJob | undefined {
    const list = this.pending;
    let best = -1;
    let bestGap = Number.POSITIVE_INFINITY;
    for (let i = 0; i < list.length; i++) {
      const gap = Math.abs((list[i] as PendingJob).at - dispatchedAt);
      if (gap < bestGap) {
        bestGap = gap;
        best = i;
      }
    }
    if (best < 0) return undefined;
    return list.splice(best, 1)[0];
  }

  /** Entries held (models, pending jobs, prefix blocks), for memory checks. */
  size(): number {
    return 1 + this.models.size + this.pending.length + this.blocks.size;
  }

  private resetModels(): void {
    this.models.clear();
    this.lastModel = "";
    this.lastStats = undefined;
    this.invalidateHot();
  }
}

function sameGpus(a: readonly GpuFacts[], b: readonly GpuFacts[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as GpuFacts;
    const y = b[i] as GpuFacts;
    if (x.name !== y.name || x.vramTotalMib !== y.vramTotalMib) return false;
  }
  return true;
}

/** smart_adaptive's features: [1, prompt/1000, output/100, output/100 · batch]. */
export function adaptiveFeatures(
  prompt: number,
  output: number,
  batch: number,
  x: Float64Array,
): Float64Array {
  x[0] = 1;
  x[1] = prompt / 1000;
  x[2] = output / 100;
  x[3] = (output / 100) * batch;
  return x;
}

/** A duration regression seeded from the node's current speed estimates (cold start = prior). */
export function createAdaptiveModel(stats: ModelStats): OnlineRegression {
  const s = stats.current();
  const prior = [s.overheadMs, s.prefillMsPerToken * 1000, s.decodeMsPerToken * 100, s.decodeSlopeMs * 100];
  const variance = prior.map((v) => (2 * v) ** 2 + 1);
  return new OnlineRegression(prior, variance, 0.99);
}
