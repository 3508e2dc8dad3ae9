import type { GpuFacts, NodeSnapshot } from "../../nodes/types.js";
import { OnlineRegression } from "./online-regression.js";
import type { PrefixHolder } from "./prefix-index.js";
import type { RecordTable } from "./record-table.js";
import { modelParamsB, type SpeedPrior, speedPrior } from "./speed-prior.js";

/**
 * How fast the whole fleet runs a model compared with the GPU-table prior, learned from every
 * node's outcomes (FleetState): `prefill` and `decode` are EWMAs of log(observed ÷ prior). The
 * prior's ratios between GPUs follow from spec sheets and hold; its absolute scale does not (a
 * time-scaled simulator runs 5× faster, a real deployment may run at another efficiency, and
 * the host adds its own latency), so each node's learned speeds are kept within a band around
 * its prior × this scale, and a node that stops being sampled drifts back to it.
 */
export class FleetCalibration {
  /** EWMA of log(observed prefill-phase time ÷ the prior's), over all nodes. */
  prefill = 0;
  /** EWMA of log(observed decode ms per token ÷ the prior's), over all nodes. */
  decode = 0;
  samples = 0;

  /** Scale for prefill-phase figures (overhead, ms per prompt token). */
  get prefillScale(): number {
    return Math.exp(this.prefill);
  }
  /** Scale for decode figures (ms per token, slope). */
  get decodeScale(): number {
    return Math.exp(this.decode);
  }

  /** Folds in one outcome's observed ÷ prior ratios (each clipped, so no sample moves it far). */
  learn(prefillRatio: number, decodeRatio: number): void {
    // Fast at first (mean of what was seen), then an EWMA over ~50 outcomes.
    const a = Math.max(1 / ++this.samples, CAL_ALPHA);
    if (prefillRatio > 0 && Number.isFinite(prefillRatio)) {
      this.prefill += a * (clamp(Math.log(prefillRatio), -CAL_CLIP, CAL_CLIP) - this.prefill);
    }
    if (decodeRatio > 0 && Number.isFinite(decodeRatio)) {
      this.decode += a * (clamp(Math.log(decodeRatio), -CAL_CLIP, CAL_CLIP) - this.decode);
    }
  }
}

const CAL_ALPHA = 0.02;
/** One outcome moves the fleet scale by at most a factor of 8 in log space × the EWMA weight. */
const CAL_CLIP = Math.log(8);
/**
 * A node's learned speeds stay within this factor of its calibrated prior either way: wider than
 * any real difference between twins (throttling, a noisy neighbour), narrower than what a burst of
 * queueing the model did not see can teach it (the intercept soaked up seconds of host contention).
 */
export const SPEED_BAND = 4;
/** Learning targets are clipped to this factor of the calibrated prior's and the fit's predictions. */
const TARGET_CLIP = 8;
/**
 * An unsampled node's learned speeds move halfway back to its calibrated prior in this many
 * rounds of the fleet's outcomes (a round: as many outcomes as there are nodes). Counted in
 * outcomes, not time: what ages a node's figures is the fleet learning while it does not; an idle
 * fleet changes nothing, and a node sampled once a minute in a quiet fleet keeps what it learned.
 */
export const STALE_HALF_LIFE_ROUNDS = 25;
/** Rounds a node may go unsampled before `relax` starts pulling (a slow node's share is small). */
export const STALE_GRACE_ROUNDS = 8;

/** A job the control plane dispatched to a node and has not yet seen finish. */
export interface PendingJob {
  /** Dispatch time (ms, the strategy's clock). */
  readonly at: number;
  readonly promptTokens: number;
  readonly expectedOutputTokens: number;
  /** Wait before prefill that was predicted at dispatch (ms); subtracted when learning prefill speed. */
  readonly predictedWaitMs: number;
  /** Prefill time this job added to the node's virtual prefill queue at dispatch (ms). */
  readonly prefillMs: number;
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
  /**
   * TTFT added by each sequence already on the node, beyond what the GPU model explains: the
   * engine's per-sequence scheduling, sampling and detokenising, and its server streaming every
   * sequence's tokens (learned; 0 in the prior).
   */
  congestionMs: number;
  decodeMsPerToken: number;
  decodeSlopeMs: number;
}

/** What a node has taught us about one model. */
export class ModelStats {
  /** TTFT − predicted wait ≈ θ₀ + θ₁ · (uncached prompt tokens / 1000) + θ₂ · (other sequences on the node). */
  readonly prefill: OnlineRegression;
  /** Decode ms per output token ≈ θ₀ + θ₁ · (sequences in the batch). */
  readonly decode: OnlineRegression;
  /** smart_adaptive: duration ≈ θ · [1, prompt/1000, out/100, out/100 · batch]; created on first use. */
  adaptive: OnlineRegression | undefined;
  private readonly speeds: Speeds = {
    overheadMs: 0,
    prefillMsPerToken: 0,
    congestionMs: 0,
    decodeMsPerToken: 0,
    decodeSlopeMs: 0,
  };

  /** The GPU-table prior of this node for this model (unscaled). */
  readonly prior: SpeedPrior;
  /** The fleet's outcome count (FleetState) at this node's last learning step; NaN: never. */
  touchedAt = Number.NaN;
  /** The fleet's outcome count up to which `relax` has pulled the learners. */
  private relaxedAt = 0;

  /** Seeds both learners from the first-principles prior for these GPUs and this model. */
  constructor(
    gpus: readonly GpuFacts[],
    model: string,
    /** The fleet's scale for this model; a private neutral one when not given. */
    readonly calibration: FleetCalibration = new FleetCalibration(),
  ) {
    const prior = speedPrior(gpus, modelParamsB(model));
    this.prior = prior;
    const pf = prior.prefillMsPerToken * 1000;
    this.prefill = new OnlineRegression(
      [prior.overheadMs, pf, 0],
      [(2 * prior.overheadMs) ** 2, (2 * pf) ** 2 + 1, prior.overheadMs ** 2],
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

  /**
   * Current speeds, clamped to sane ranges and to SPEED_BAND around the calibrated prior (same
   * object every call: read, don't keep). The band follows the fleet scale as of the node's own
   * last learning step.
   */
  current(): Speeds {
    const s = this.speeds;
    if (this.version === this.speedsAt) return s;
    this.speedsAt = this.version;
    const [o = 0, pf = 0, congestion = 0] = this.prefill.theta;
    const [d0 = 0, slope = 0] = this.decode.theta;
    const p = this.prior;
    const kp = this.calibration.prefillScale;
    const kd = this.calibration.decodeScale;
    s.overheadMs = clamp(o, 0, Math.min(60_000, p.overheadMs * kp * SPEED_BAND));
    s.prefillMsPerToken = clamp(
      pf / 1000,
      Math.max(1e-5, (p.prefillMsPerToken * kp) / SPEED_BAND),
      Math.min(1_000, p.prefillMsPerToken * kp * SPEED_BAND),
    );
    s.congestionMs = clamp(congestion, 0, p.overheadMs * kp * SPEED_BAND);
    s.decodeMsPerToken = clamp(
      d0,
      Math.max(0.01, (p.decodeMsPerToken * kd) / SPEED_BAND),
      Math.min(10_000, p.decodeMsPerToken * kd * SPEED_BAND),
    );
    s.decodeSlopeMs = clamp(slope, 0, s.decodeMsPerToken);
    return s;
  }

  /** The calibrated prior's time for the prefill phase of `uncached` prompt tokens (ms). */
  priorPrefillMs(uncached: number): number {
    return (this.prior.overheadMs + this.prior.prefillMsPerToken * uncached) * this.calibration.prefillScale;
  }

  /** The calibrated prior's decode ms per token at `batch` sequences. */
  priorDecodeMs(batch: number): number {
    return (this.prior.decodeMsPerToken + this.prior.decodeSlopeMs * batch) * this.calibration.decodeScale;
  }

  /**
   * Clips a learning target to within TARGET_CLIP of what the calibrated prior and the current
   * fit predict (below the lower of the two, above the higher).
   */
  static clipTarget(y: number, priorPredicted: number, fitPredicted: number): number {
    const lo = Math.min(priorPredicted, fitPredicted);
    const hi = Math.max(priorPredicted, fitPredicted);
    if (!(lo > 0) || !(hi < Number.POSITIVE_INFINITY)) return y;
    return clamp(y, lo / TARGET_CLIP, hi * TARGET_CLIP);
  }

  /**
   * Pulls the learners' coefficients toward the calibrated prior for the rounds they went without
   * a sample beyond STALE_GRACE_ROUNDS (half-way every STALE_HALF_LIFE_ROUNDS), so a node whose
   * last samples came from a bad moment (a burst of load the model did not see) is tried again
   * once that moment has passed, instead of being avoided for good because nothing it serves can
   * correct it. A node sampled about as often as its share of the fleet is never pulled (no bias
   * on what it learns). Nothing learned yet: the calibrated prior is all there is to go on.
   * `outcomes` is the fleet's outcome count now, `nodes` the fleet's size; returns whether the
   * coefficients changed.
   */
  relax(outcomes: number, nodes: number): boolean {
    const round = Math.max(1, nodes);
    let keep = 0;
    if (this.prefill.samples + this.decode.samples > 0) {
      const from = Math.max(this.touchedAt + STALE_GRACE_ROUNDS * round, this.relaxedAt);
      if (!(outcomes > from)) return false;
      keep = 0.5 ** ((outcomes - from) / round / STALE_HALF_LIFE_ROUNDS);
    }
    this.relaxedAt = outcomes;
    const p = this.prior;
    const kp = this.calibration.prefillScale;
    const kd = this.calibration.decodeScale;
    pull(this.prefill.theta, 0, p.overheadMs * kp, keep);
    pull(this.prefill.theta, 1, p.prefillMsPerToken * 1000 * kp, keep);
    pull(this.prefill.theta, 2, 0, keep);
    pull(this.decode.theta, 0, p.decodeMsPerToken * kd, keep);
    pull(this.decode.theta, 1, p.decodeSlopeMs * kd, keep);
    this.version++;
    return true;
  }
}

function pull(theta: Float64Array, i: number, target: number, keep: number): void {
  theta[i] = target + ((theta[i] as number) - target) * keep;
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
    /** The fleet's calibration per model; none: every model keeps a neutral one of its own. */
    private readonly calibrationFor?: (model: string) => FleetCalibration,
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
      stats = new ModelStats(this.gpus, model, this.calibrationFor?.(model));
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
    t.congestionMs[ix] = s.congestionMs;
    t.decodeMsPerToken[ix] = s.decodeMsPerToken;
    t.decodeSlopeMs[ix] = s.decodeSlopeMs;
    const rate = 1000 / s.decodeMsPerToken;
    t.decodeRate[ix] = s.decodeMsPerToken > 0 && rate >= 0 ? rate : Number.POSITIVE_INFINITY;
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

  /**
   * Relaxes every model's learners toward the calibrated prior (ModelStats.relax); returns
   * whether any changed (the hot copy is then stale).
   */
  relaxStale(outcomes: number, nodes: number): boolean {
    let changed = false;
    for (const stats of this.models.values()) if (stats.relax(outcomes, nodes)) changed = true;
    if (changed) this.invalidateHot();
    return changed;
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
