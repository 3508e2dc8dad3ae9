import type { GpuFacts, NodeSnapshot } from "../../nodes/types.js";
import { OnlineRegression } from "./online-regression.js";
import type { PrefixHolder } from "./prefix-index.js";
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
 * It also carries a hot copy of one model's clamped speeds and smart_adaptive coefficients as
 * its own fields: scoring reads them from the record it already touches instead of chasing
 * record → model stats → regressions → speeds (four more cache misses per candidate on a big
 * fleet). The copy is reloaded when the model changes or an outcome taught something new.
 */
export class NodeRecord implements PrefixHolder, Speeds {
  readonly blocks = new Map<number, true>();
  matched = 0;
  matchEpoch = -1;
  /** Latest snapshot seen in select, so dispatch-time predictions can use the engine's signals. */
  node: NodeSnapshot | undefined;
  /** Jobs dispatched and not yet finished, by our own accounting. */
  jobs = 0;
  promptSum = 0;
  outputSum = 0;
  /** When the node's prefill pipeline drains of the work we sent it (ms, virtual time). */
  prefillFreeAt = 0;
  readonly pending: PendingJob[] = [];
  dispatches = 0;
  /** EWMA of our own observed durations (ms), for strategies when the snapshot has none. */
  ewmaMs: number | undefined;
  /** Smooth weighted round robin's running weight. */
  swrrCurrent = 0;
  // Hot copy (see class comment). NaN-initialised: double fields from the start, "not loaded".
  overheadMs = Number.NaN;
  prefillMsPerToken = Number.NaN;
  decodeMsPerToken = Number.NaN;
  decodeSlopeMs = Number.NaN;
  /** smart_adaptive θ₀..θ₃ for the hot model. */
  a0 = Number.NaN;
  a1 = Number.NaN;
  a2 = Number.NaN;
  a3 = Number.NaN;
  private hotModel = "";
  private gpus: readonly GpuFacts[] = [];
  private readonly models = new Map<string, ModelStats>();
  private lastModel = "";
  private lastStats: ModelStats | undefined;

  /** A fresh record for node `id`. */
  constructor(readonly id: string) {}

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
   * This record, its hot fields loaded with `model`'s clamped speeds (and smart_adaptive's θ
   * when `adaptive`). Cheap when the model is the same as last time and nothing was learned since.
   */
  hot(model: string, adaptive: boolean): this {
    if (model === this.hotModel && (!adaptive || !Number.isNaN(this.a0))) return this;
    const fresh = this.statsFor(model);
    const s = fresh.current();
    this.overheadMs = s.overheadMs;
    this.prefillMsPerToken = s.prefillMsPerToken;
    this.decodeMsPerToken = s.decodeMsPerToken;
    this.decodeSlopeMs = s.decodeSlopeMs;
    if (adaptive) {
      fresh.adaptive ??= createAdaptiveModel(fresh);
      const theta = fresh.adaptive.theta;
      this.a0 = theta[0] as number;
      this.a1 = theta[1] as number;
      this.a2 = theta[2] as number;
      this.a3 = theta[3] as number;
    } else this.a0 = Number.NaN;
    this.hotModel = model;
    return this;
  }

  /** Marks the hot copy stale: learning changed the speeds (the only writer is FleetState.outcome). */
  invalidateHot(): void {
    this.hotModel = "";
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
    this.hotModel = "";
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
