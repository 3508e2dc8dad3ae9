/**
 * The figures a decision reads from every candidate's NodeRecord, one typed array per field,
 * indexed by the record's `ix`.
 *
 * Why columns: a scorer over 10,000 nodes is bound by memory, not arithmetic. As fields of one
 * object per node, each figure is a boxed double somewhere on the heap (V8 boxes double fields
 * under pointer compression), so reading seven of them costs up to seven cache misses per node.
 * Here they are unboxed and dense, and records are numbered in the order they were first seen,
 * which is the candidate order: a scan streams through memory the prefetcher can follow.
 *
 * Arrays are replaced when they grow, so read them through the table, never keep one.
 */
export class RecordTable {
  /** Records the arrays have room for. */
  capacity = 0;
  /** Jobs dispatched and not yet finished, by our own accounting. */
  jobs: Float64Array = new Float64Array(0);
  promptSum: Float64Array = new Float64Array(0);
  outputSum: Float64Array = new Float64Array(0);
  /** When the node's prefill pipeline drains of the work we sent it (ms, virtual time). */
  prefillFreeAt: Float64Array = new Float64Array(0);
  /** EWMA of our own observed durations (ms); NaN before the first outcome. */
  ewmaMs: Float64Array = new Float64Array(0);
  /** Smooth weighted round robin's running weight. */
  swrr: Float64Array = new Float64Array(0);
  /** Prefix-index scratch: leading blocks matched, valid while matchEpoch is the index's. */
  matched: Int32Array = new Int32Array(0);
  matchEpoch: Int32Array = new Int32Array(0);
  /**
   * Hot copy of one model's clamped speeds (and smart_adaptive's θ) per record: `hotModel` is
   * the model's id (see modelId), -1 when nothing is loaded. A learning step sets it back to -1.
   */
  hotModel: Int32Array = new Int32Array(0);
  overheadMs: Float64Array = new Float64Array(0);
  prefillMsPerToken: Float64Array = new Float64Array(0);
  congestionMs: Float64Array = new Float64Array(0);
  decodeMsPerToken: Float64Array = new Float64Array(0);
  decodeSlopeMs: Float64Array = new Float64Array(0);
  /**
   * 1000 / decodeMsPerToken of the hot copy: tokens/s with nothing else on the node, the
   * most any load leaves (cost_aware's bound); +Infinity when the speed is not positive.
   */
  decodeRate: Float64Array = new Float64Array(0);
  /** smart_adaptive θ₀..θ₃ for the hot model; NaN when not loaded. */
  a0: Float64Array = new Float64Array(0);
  a1: Float64Array = new Float64Array(0);
  a2: Float64Array = new Float64Array(0);
  a3: Float64Array = new Float64Array(0);

  private next = 0;
  private readonly free: number[] = [];
  private readonly modelIds = new Map<string, number>();
  private static readonly MAX_MODELS = 4096;

  /** Takes a row for a new record, initialised to "no jobs, nothing learned". */
  allocate(): number {
    const ix = this.free.pop() ?? this.next++;
    if (ix >= this.capacity) this.grow(ix + 1);
    this.jobs[ix] = 0;
    this.promptSum[ix] = 0;
    this.outputSum[ix] = 0;
    this.prefillFreeAt[ix] = 0;
    this.ewmaMs[ix] = Number.NaN;
    this.swrr[ix] = 0;
    this.matched[ix] = 0;
    this.matchEpoch[ix] = -1;
    this.hotModel[ix] = -1;
    this.a0[ix] = Number.NaN;
    return ix;
  }

  /**
   * Makes room for `more` new records, so the arrays stay the same while they are created: for
   * a loop that holds the arrays while it may create records (a first sight of new nodes).
   */
  reserve(more: number): void {
    if (this.next + more > this.capacity) this.grow(this.next + more);
  }

  /** Gives a removed record's row back for reuse. */
  release(ix: number): void {
    this.hotModel[ix] = -1;
    this.free.push(ix);
  }

  /** A small integer for a model name, so a row can say which model its hot copy holds. */
  modelId(model: string): number {
    let id = this.modelIds.get(model);
    if (id === undefined) {
      if (this.modelIds.size >= RecordTable.MAX_MODELS) {
        // Garbage model names must not grow memory: start over, and with it every hot copy.
        this.modelIds.clear();
        this.hotModel.fill(-1);
      }
      id = this.modelIds.size;
      this.modelIds.set(model, id);
    }
    return id;
  }

  private grow(min: number): void {
    const size = Math.max(min, 64, this.capacity * 2);
    this.jobs = extend(this.jobs, size);
    this.promptSum = extend(this.promptSum, size);
    this.outputSum = extend(this.outputSum, size);
    this.prefillFreeAt = extend(this.prefillFreeAt, size);
    this.ewmaMs = extend(this.ewmaMs, size);
    this.swrr = extend(this.swrr, size);
    this.matched = extendInt(this.matched, size);
    this.matchEpoch = extendInt(this.matchEpoch, size);
    this.hotModel = extendInt(this.hotModel, size);
    this.overheadMs = extend(this.overheadMs, size);
    this.prefillMsPerToken = extend(this.prefillMsPerToken, size);
    this.congestionMs = extend(this.congestionMs, size);
    this.decodeMsPerToken = extend(this.decodeMsPerToken, size);
    this.decodeSlopeMs = extend(this.decodeSlopeMs, size);
    this.decodeRate = extend(this.decodeRate, size);
    this.a0 = extend(this.a0, size);
    this.a1 = extend(this.a1, size);
    this.a2 = extend(this.a2, size);
    this.a3 = extend(this.a3, size);
    this.capacity = size;
  }
}

function extend(a: Float64Array, size: number): Float64Array {
  const b = new Float64Array(size);
  b.set(a);
  return b;
}

function extendInt(a: Int32Array, size: number): Int32Array {
  const b = new Int32Array(size);
  b.set(a);
  return b;
}
