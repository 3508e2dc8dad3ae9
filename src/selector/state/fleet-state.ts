import type { GpuFacts, JobOutcome, NodeSnapshot } from "../../nodes/types.js";
import { finiteOr } from "../node-figures.js";
import type { Lifecycle } from "../pipeline.js";
import type { SelectionRequest } from "../types.js";
import { type LatencyPrediction, predictLatency } from "./latency-model.js";
import { NodeFacts } from "./node-facts.js";
import {
  adaptiveFeatures,
  createAdaptiveModel,
  FleetCalibration,
  ModelStats,
  NodeRecord,
  type PendingJob,
} from "./node-record.js";
import { blockKeys, PrefixIndex } from "./prefix-index.js";
import { RecordTable } from "./record-table.js";

/** What a strategy's fleet state tracks beyond job counts. */
export interface FleetOptions {
  /** Clock in ms. */
  readonly now: () => number;
  /** Keep the prefix-affinity index (gpu_aware). */
  readonly prefixes: boolean;
  /** Prefix blocks remembered per node. */
  readonly prefixCapacity: number;
  /** Tokens per prefix block; 0 = infer from the request (prompt tokens / hashes). */
  readonly prefixBlockTokens: number;
  /** Learn per-node prefill/decode speeds from outcomes (gpu_aware). */
  readonly learnSpeeds: boolean;
  /** Learn smart_adaptive's duration regression from outcomes. */
  readonly adaptive: boolean;
}

/** Whether a strategy with these options reads per-job accounting (others skip the bookkeeping). */
function tracksWork(o: FleetOptions): boolean {
  return o.prefixes || o.learnSpeeds || o.adaptive;
}

const DEFAULT_OUTPUT_TOKENS = 256;
/** A job not heard of for this long is assumed lost (its outcome never came) and forgotten. */
const STALE_JOB_MS = 15 * 60_000;
const MAX_PENDING = 4096;
const MAX_MODELS = 1024;
/** Our job count may exceed the control plane's in-flight count this long before we trust theirs. */
const RECONCILE_GRACE_MS = 2_000;

/**
 * Per-strategy memory of the fleet, fed by onDispatch / onOutcome / onNodeRemoved: our own
 * outstanding-work accounting per node, learned speeds, smart_adaptive's regressions, the prefix
 * index, and the mean output length per model. Bounded: one record per live node, pending jobs
 * capped and aged out, prefix blocks capped per node.
 *
 * Scorers reach a candidate's record through a cache keyed by the node's store ordinal
 * (`indexAt`, NodeSnapshot.ordinal): remembering which record and generation sat at each ordinal
 * turns the per-node Map lookup into one number comparison, and the record's hot figures are
 * then read from `table` by row. A snapshot without an ordinal (built outside a node store) is
 * keyed by its candidate position instead, checked by its id, as candidate lists come in the
 * same order call after call.
 */
export class FleetState implements Lifecycle {
  private readonly records = new Map<string, NodeRecord>();
  private byIx: (NodeRecord | undefined)[] = [];
  /** Hot per-record figures, by NodeRecord.ix. */
  readonly table = new RecordTable();
  /** Registration-derived figures (capability, VRAM, price, WRR weight), by candidate position. */
  readonly facts = new NodeFacts();
  /** Present when prefix affinity is on. */
  readonly prefixes: PrefixIndex<NodeRecord> | undefined;
  private readonly outputEwma = new Map<string, number>();
  private readonly calibrations = new Map<string, FleetCalibration>();
  private readonly calibrationOf = (model: string): FleetCalibration => this.calibration(model);
  /** Next row the outcome path looks at for staleness (one per outcome, round the table). */
  private relaxCursor = 0;
  /** Outcomes learned from, fleet-wide: the clock that ages learned speeds (ModelStats.relax). */
  private learnedOutcomes = 0;
  private readonly scratch: LatencyPrediction = { ttftMs: 0, totalMs: 0, waitMs: 0 };
  private readonly adaptiveX = new Float64Array(4);
  private readonly pair = new Float64Array(2);
  private readonly prefillX = new Float64Array(3);
  private readonly trackWork: boolean;
  // By cache key (cacheKey: the node's ordinal, else its candidate position): the generation
  // (NaN when keyed by position), node id and GPU list bound there (a new GPU list goes through
  // NodeRecord.observe, which a new generation or, by position, a new list brings about) and
  // the table row of its record.
  // Read directly by the model loop (latency-model.ts predictRows) for its fast path; written
  // only here. Arrays are replaced (node removal, growth): read them through the object.
  slotIds: (string | undefined)[] = [];
  slotGpus: (readonly GpuFacts[] | undefined)[] = [];
  slotGen: Float64Array = new Float64Array(64).fill(Number.NaN);
  slotIx: Int32Array = new Int32Array(64);

  /** Builds the state with the given options. */
  constructor(readonly options: FleetOptions) {
    this.prefixes = options.prefixes ? new PrefixIndex(options.prefixCapacity, this.table) : undefined;
    this.trackWork = tracksWork(options);
  }

  /** The record for a candidate, created on first sight and refreshed with this snapshot. */
  record(node: NodeSnapshot): NodeRecord {
    const rec = this.lookup(node.id);
    rec.observe(node);
    this.checkJobs(rec.ix, node.inFlight);
    return rec;
  }

  /**
   * The table row of the record for the candidate at position `slot`, checked against this
   * snapshot's in-flight count like `record(node)`: usually one generation comparison by the
   * node's ordinal (an id comparison by `slot` for a snapshot without one), no Map lookup, and
   * the record object itself is not touched.
   */
  indexAt(slot: number, node: NodeSnapshot): number {
    const o = node.ordinal;
    let key = slot;
    if (o !== undefined && o >= 0) {
      // The generation alone: it changes with the registration (NodeSnapshot.generation). The
      // bounds check keeps `undefined` out of the comparison, whose type feedback would
      // otherwise turn it into a generic call.
      key = o;
      if (!(o < this.slotGen.length && this.slotGen[o] === node.generation)) return this.bind(o, node);
    } else if (this.slotIds[slot] !== node.id || this.slotGpus[slot] !== node.gpus)
      return this.bind(slot, node);
    const ix = this.slotIx[key] as number;
    this.checkJobs(ix, node.inFlight);
    return ix;
  }

  /**
   * Makes row `ix`'s hot copy hold `model`'s speeds (and θ when `adaptive`); `modelId` is
   * `table.modelId(model)`. One comparison for a row that already does, which is every row until
   * an outcome teaches its node something.
   */
  hotAt(ix: number, modelId: number, model: string, adaptive: boolean): void {
    const t = this.table;
    if (t.hotModel[ix] !== modelId || (adaptive && Number.isNaN(t.a0[ix] as number))) {
      this.loadHot(ix, model, modelId, adaptive);
    }
  }

  private loadHot(ix: number, model: string, modelId: number, adaptive: boolean): void {
    (this.byIx[ix] as NodeRecord).loadHot(model, modelId, adaptive);
  }

  /**
   * The snapshot select picked, kept on its record for the dispatch-time prediction that
   * usually follows. (Scoring itself never writes to record objects: at 10,000 candidates
   * that alone is a cache miss per node.)
   */
  selected(node: NodeSnapshot): void {
    const rec = this.records.get(node.id);
    if (rec !== undefined) rec.observe(node);
  }

  /** Binds cache key `slot` (cacheKey) to `node`'s record. */
  private bind(slot: number, node: NodeSnapshot): number {
    const rec = this.lookup(node.id);
    rec.observe(node);
    if (slot >= this.slotIx.length) {
      const size = Math.max(slot + 1, this.slotIx.length * 2);
      const grown = new Int32Array(size);
      grown.set(this.slotIx);
      this.slotIx = grown;
      const gens = new Float64Array(size).fill(Number.NaN);
      gens.set(this.slotGen);
      this.slotGen = gens;
    }
    const o = node.ordinal;
    this.slotGen[slot] = o !== undefined && o >= 0 ? (node.generation ?? Number.NaN) : Number.NaN;
    this.slotIds[slot] = node.id;
    this.slotGpus[slot] = node.gpus;
    this.slotIx[slot] = rec.ix;
    this.checkJobs(rec.ix, node.inFlight);
    return rec.ix;
  }

  private lookup(id: string): NodeRecord {
    let rec = this.records.get(id);
    if (rec === undefined) {
      const ix = this.table.allocate();
      rec = new NodeRecord(id, ix, this.table, this.options.learnSpeeds ? this.calibrationOf : undefined);
      this.records.set(id, rec);
      this.byIx[ix] = rec;
    }
    return rec;
  }

  /**
   * The control plane's in-flight count is the truth; more jobs on our books means outcomes
   * were lost (or the snapshot lags a dispatch by a moment, hence the grace period).
   */
  checkJobs(ix: number, inFlight: number): void {
    if ((this.table.jobs[ix] as number) > inFlight && Number.isFinite(inFlight)) {
      this.reconcile(this.byIx[ix] as NodeRecord, inFlight);
    }
  }

  /** The record for a node id, if any. */
  peek(nodeId: string): NodeRecord | undefined {
    return this.records.get(nodeId);
  }

  /** Our own EWMA of the durations seen on the candidate at `slot` (ms); undefined before any. */
  ewmaAt(slot: number, node: NodeSnapshot): number | undefined {
    const v = this.ewmaMsAt(slot, node);
    return Number.isNaN(v) ? undefined : v;
  }

  /** ewmaAt for loops over numbers: NaN before any outcome. */
  ewmaMsAt(slot: number, node: NodeSnapshot): number {
    // The row first: binding a new record may grow the table, replacing its arrays.
    const ix = this.indexAt(slot, node);
    return this.table.ewmaMs[ix] as number;
  }

  /** The fleet's speed calibration for `model` (FleetCalibration), created on first use. */
  calibration(model: string): FleetCalibration {
    let c = this.calibrations.get(model);
    if (c === undefined) {
      if (this.calibrations.size >= MAX_MODELS) this.calibrations.clear();
      c = new FleetCalibration();
      this.calibrations.set(model, c);
    }
    return c;
  }

  /** Output tokens to expect: the model's mean so far, capped by the request's max_tokens. */
  expectedOutput(request: SelectionRequest): number {
    const cap = request.maxTokens > 0 && Number.isFinite(request.maxTokens) ? request.maxTokens : Infinity;
    const mean = this.outputEwma.get(request.model) ?? DEFAULT_OUTPUT_TOKENS;
    return Math.max(1, Math.min(cap, mean));
  }

  /** Prompt tokens of `request` a holder of `blocks` leading blocks has cached. */
  cachedTokens(request: SelectionRequest, blocks: number): number {
    if (blocks <= 0) return 0;
    const prompt = Math.max(0, finiteOr(request.promptTokens, 0));
    return Math.min(prompt, blocks * this.blockTokens(request));
  }

  /** Tokens per prefix block: the configured size, else inferred as prompt ÷ hashes. */
  blockTokens(request: SelectionRequest): number {
    if (this.options.prefixBlockTokens > 0) return this.options.prefixBlockTokens;
    const prompt = Math.max(0, finiteOr(request.promptTokens, 0));
    return prompt / Math.max(1, request.prefixHashes.length);
  }

  /** A job went to `nodeId`: book it, advance the node's prefill queue, index its prefix blocks. */
  dispatch(request: SelectionRequest, nodeId: string): void {
    const now = this.options.now();
    const rec = this.lookup(nodeId);
    if (!this.trackWork) return;
    if (++rec.dispatches % 64 === 0) this.sweep(rec, now);
    const prompt = Math.max(0, request.promptTokens) || 0;
    const output = this.expectedOutput(request);
    let waitMs = 0;
    let prefillMs = 0;
    const keys = this.prefixes !== undefined ? blockKeys(request.prefixHashes) : undefined;
    const node = rec.node;
    if (node !== undefined && this.options.learnSpeeds) {
      // Advance the node's virtual prefill queue by this prompt's uncached part.
      const blocks = keys !== undefined ? (this.prefixes?.matchOne(rec, keys) ?? 0) : 0;
      const speeds = rec.statsFor(request.model).current();
      const cached = this.cachedTokens(request, blocks);
      const p = predictLatency(rec, node, speeds, prompt, cached, output, now, this.scratch);
      waitMs = p.waitMs;
      prefillMs = Math.max(0, prompt - cached) * speeds.prefillMsPerToken;
      rec.prefillFreeAt = Math.max(now, rec.prefillFreeAt) + prefillMs;
    }
    rec.jobs++;
    rec.promptSum += prompt;
    rec.outputSum += output;
    if (rec.pending.length >= MAX_PENDING) this.drop(rec, rec.pending.shift() as PendingJob);
    rec.pending.push({
      at: now,
      promptTokens: prompt,
      expectedOutputTokens: output,
      predictedWaitMs: waitMs,
      prefillMs,
      batch: rec.jobs,
    });
    if (keys !== undefined) this.prefixes?.record(rec, keys);
  }

  /** A job ended: take it off the books and learn from its timings. */
  outcome(outcome: JobOutcome): void {
    const rec = this.records.get(outcome.nodeId);
    if (rec === undefined) return; // node already removed: nothing to learn into
    const now = this.options.now();
    const duration =
      Number.isFinite(outcome.durationMs) && outcome.durationMs >= 0 ? outcome.durationMs : undefined;
    const batchNow = Math.max(1, rec.jobs);
    const job = rec.takePending(now - (duration ?? 0));
    if (job !== undefined) {
      this.drop(rec, job);
      if (this.options.learnSpeeds) this.settleQueue(rec, job, now);
    }
    if (!outcome.ok || duration === undefined) return;
    rec.ewmaMs = rec.ewmaMs === undefined ? duration : rec.ewmaMs + 0.2 * (duration - rec.ewmaMs);
    const completion = finiteCount(outcome.completionTokens);
    if (completion > 0) this.learnOutput(outcome.model, completion);
    const batch = job === undefined ? batchNow : (job.batch + batchNow) / 2;
    const prompt = finiteCount(outcome.promptTokens);
    const ttft = outcome.ttftMs;
    if (
      this.options.learnSpeeds &&
      ttft !== undefined &&
      Number.isFinite(ttft) &&
      ttft >= 0 &&
      ttft <= duration
    ) {
      const stats = rec.statsFor(outcome.model);
      const clock = ++this.learnedOutcomes;
      stats.touchedAt = clock;
      const uncached = Math.max(0, prompt - finiteCount(outcome.cachedPromptTokens));
      // Take out the wait we predicted, but never more than 3/4 of what was seen: a bad wait
      // estimate must not teach us that prefill is free.
      const adjusted = Math.max(ttft - (job?.predictedWaitMs ?? 0), ttft * 0.25);
      const perToken = completion >= 2 ? (duration - ttft) / (completion - 1) : Number.NaN;
      // Sequences that were already on the node when this one was dispatched.
      const others = Math.max(0, (job?.batch ?? batchNow) - 1);
      // The fleet's scale first (observed ÷ the unscaled prior), from lightly loaded samples
      // only: the prior has no load terms, so a sample from a crowded node would teach the whole
      // fleet that every GPU is slow (and make the crowded node look no worse than the rest).
      const p = stats.prior;
      if (others <= 1) {
        stats.calibration.learn(
          adjusted / (p.overheadMs + p.prefillMsPerToken * uncached),
          batch <= 2 ? perToken / (p.decodeMsPerToken + p.decodeSlopeMs * batch) : Number.NaN,
        );
      }
      // Then this node's learners, with targets clipped to TARGET_CLIP around what the calibrated
      // prior and the node's own current fit predict: a TTFT inflated 20× by a moment of
      // contention must not become the node's speed at once, while a lasting effect (a crowded
      // node slowing down) is learned within a few samples, as each widens the next clip.
      const s = stats.current();
      const x = this.prefillX;
      x[0] = 1;
      x[1] = uncached / 1000;
      x[2] = others;
      const fitTtft = s.overheadMs + s.prefillMsPerToken * uncached + s.congestionMs * others;
      stats.learn(stats.prefill, x, ModelStats.clipTarget(adjusted, stats.priorPrefillMs(uncached), fitTtft));
      if (completion >= 2) {
        this.pair[0] = 1;
        this.pair[1] = batch;
        const fitDecode = s.decodeMsPerToken + s.decodeSlopeMs * batch;
        stats.learn(
          stats.decode,
          this.pair,
          ModelStats.clipTarget(perToken, stats.priorDecodeMs(batch), fitDecode),
        );
      }
      this.relaxOne(clock);
    }
    if (this.options.adaptive) {
      const stats = rec.statsFor(outcome.model);
      const x = this.adaptiveX;
      adaptiveFeatures(prompt, completion, batch, x);
      stats.adaptive ??= createAdaptiveModel(stats);
      stats.learn(stats.adaptive, x, duration);
    }
    rec.invalidateHot();
  }

  /**
   * Looks at the next record round the table and relaxes it toward its calibrated prior if it
   * went unsampled (ModelStats.relax): O(1) per outcome, so a node nobody sends work to still
   * comes back within reach (every node is visited once per table-size outcomes).
   */
  private relaxOne(clock: number): void {
    const n = this.byIx.length;
    for (let tries = 0; tries < n; tries++) {
      const i = this.relaxCursor;
      this.relaxCursor = i + 1 >= n ? 0 : i + 1;
      const rec = this.byIx[i];
      if (rec !== undefined) {
        rec.relaxStale(clock, this.records.size);
        return;
      }
    }
  }

  /**
   * The virtual prefill queue is an open-loop estimate (each dispatch adds its prefill at the
   * speed believed then) and must not drift from what happened: once `job` has ended, the work
   * dispatched before it has been prefilled (the engine admits in order), so what can still be
   * queued is at most the prefill of the jobs dispatched after it. Without this, a burst
   * dispatched while prefill was believed slow leaves a node looking busy long after it drained.
   */
  private settleQueue(rec: NodeRecord, job: PendingJob, now: number): void {
    let behind = 0;
    const pending = rec.pending;
    for (let i = pending.length - 1; i >= 0; i--) {
      const p = pending[i] as PendingJob;
      if (p.at <= job.at) break;
      behind += p.prefillMs;
    }
    if (rec.prefillFreeAt > now + behind) rec.prefillFreeAt = now + behind;
  }

  /** A node left for good: free everything held for it. */
  remove(nodeId: string): void {
    const rec = this.records.get(nodeId);
    if (rec === undefined) return;
    this.prefixes?.forget(rec);
    this.records.delete(nodeId);
    this.byIx[rec.ix] = undefined;
    this.table.release(rec.ix);
    // Forget every binding, so no reference to the node's snapshots or objects stays behind.
    this.slotIds = [];
    this.slotGpus = [];
    this.slotGen.fill(Number.NaN);
    this.facts.clear();
  }

  /** Entries held, for bounded-memory checks. */
  size(): number {
    let n = this.outputEwma.size;
    for (const rec of this.records.values()) n += rec.size();
    return n;
  }

  private learnOutput(model: string, tokens: number): void {
    const prev = this.outputEwma.get(model);
    if (prev === undefined && this.outputEwma.size >= MAX_MODELS) this.outputEwma.clear();
    this.outputEwma.set(model, prev === undefined ? tokens : prev + 0.1 * (tokens - prev));
  }

  private drop(rec: NodeRecord, job: PendingJob): void {
    rec.jobs = Math.max(0, rec.jobs - 1);
    rec.promptSum = rec.jobs === 0 ? 0 : Math.max(0, rec.promptSum - job.promptTokens);
    rec.outputSum = rec.jobs === 0 ? 0 : Math.max(0, rec.outputSum - job.expectedOutputTokens);
  }

  private reconcile(rec: NodeRecord, inFlight: number): void {
    const cutoff = this.options.now() - RECONCILE_GRACE_MS;
    while (rec.jobs > inFlight && rec.pending.length > 0 && (rec.pending[0] as PendingJob).at < cutoff) {
      this.drop(rec, rec.pending.shift() as PendingJob);
    }
  }

  private sweep(rec: NodeRecord, now: number): void {
    for (let i = rec.pending.length - 1; i >= 0; i--) {
      const job = rec.pending[i] as PendingJob;
      if (now - job.at > STALE_JOB_MS) {
        rec.pending.splice(i, 1);
        this.drop(rec, job);
      }
    }
  }
}

function finiteCount(x: number): number {
  return Number.isFinite(x) && x > 0 ? x : 0;
}
