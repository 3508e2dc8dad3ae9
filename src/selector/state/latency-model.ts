import type { NodeSnapshot } from "../../nodes/types.js";
import { finiteOr } from "../node-figures.js";
import type { FleetState } from "./fleet-state.js";
import type { NodeRecord, Speeds } from "./node-record.js";
import { RecordTable } from "./record-table.js";

/** Output of `predictLatency`; reused between calls, so copy what you keep. */
export interface LatencyPrediction {
  /** Predicted time to first token (ms). */
  ttftMs: number;
  /** Predicted time to the last token (ms). */
  totalMs: number;
  /** The part of ttftMs spent waiting before this request's own prefill (ms). */
  waitMs: number;
}

// The model's constants, unexported: an exported binding lives in a module cell, which
// optimised code reads as an arbitrary tagged value, so a loop that selects between one and a
// computed double boxes the double (a heap number per node and figure). The loop reads these.
const kvHigh = 0.9;
const prefillChunkTokens = 2048;
const worstMs = 1e12;

/** KV-cache usage above which an engine starts queueing or preempting sequences. */
export const KV_HIGH = kvHigh;

/** Prompt tokens an engine prefills per step (vLLM's default max_num_batched_tokens on most GPUs). */
export const PREFILL_CHUNK_TOKENS = prefillChunkTokens;

/** A prediction no candidate can lose to; used when the inputs are garbage. */
export const WORST_MS = worstMs;

/** The request's side of a prediction and how to score it, set once per decision. */
export class RequestFigures {
  // NaN-initialised so V8 gives every field a double representation from the start.
  promptTokens = Number.NaN;
  expectedOutput = Number.NaN;
  /** The strategy's clock (ms). */
  now = Number.NaN;
  /** objective = completion + ttftWeight × TTFT. */
  ttftWeight = 1;
  /**
   * Where each node's prefix-cached tokens come from: the table's prefix-match scratch
   * (matched blocks × `blockTokens` when the row's match epoch is `matchEpoch`, else none), or,
   * when `fromIndex` is false, `batch.cachedTokens` as the caller filled it.
   */
  fromIndex = false;
  matchEpoch = Number.NaN;
  blockTokens = Number.NaN;
  /** Cached tokens count this much on a node whose KV cache is above KV_HIGH (they may be evicted). */
  kvDiscount = 1;
  /** The request's model and its RecordTable id, for loading hot copies (see predictRows). */
  model = "";
  modelId = -1;
  /**
   * Whether to write TTFT, completion and wait per node (batch.ttftMs …), not just the
   * objective. Scoring needs only the objective, and at 10,000 nodes three more arrays written
   * per decision are ~240 KB of cache traffic.
   */
  keepParts = false;
}

/** Per-candidate prefix-cached tokens (input, and the figure used) and outputs of `predictRows`. */
export class PredictionBatch {
  cachedTokens: Float64Array = new Float64Array(0);
  ttftMs: Float64Array = new Float64Array(0);
  totalMs: Float64Array = new Float64Array(0);
  waitMs: Float64Array = new Float64Array(0);
  /** totalMs + ttftWeight × ttftMs. */
  objective: Float64Array = new Float64Array(0);
  /** boundRows: a lower bound on each objective. */
  lower: Float64Array = new Float64Array(0);
  /** boundRows: 1 where `objective` (and `cachedTokens`) hold the node's exact figures. */
  exact: Uint8Array = new Uint8Array(0);

  /** Makes room for `n` candidates (contents not preserved). */
  reserve(n: number): void {
    if (this.cachedTokens.length >= n) return;
    const size = Math.max(n, 64, this.cachedTokens.length * 2);
    this.cachedTokens = new Float64Array(size);
    this.ttftMs = new Float64Array(size);
    this.totalMs = new Float64Array(size);
    this.waitMs = new Float64Array(size);
    this.objective = new Float64Array(size);
    this.lower = new Float64Array(size);
    this.exact = new Uint8Array(size);
  }
}

// The cold path's row and batch: predictLatency copies a record's figures and the given speeds in.
const coldTable = new RecordTable();
const coldRow = coldTable.allocate();
const coldRequest = new RequestFigures();
const coldBatch = new PredictionBatch();
const coldRows = Int32Array.of(coldRow);
const coldNodes: NodeSnapshot[] = [];

/**
 * Predicts one request's TTFT and completion time on `rec`'s node with the given speeds (see
 * `predictRows`); for the cold paths (dispatch, tests).
 */
export function predictLatency(
  rec: NodeRecord,
  node: NodeSnapshot,
  speeds: Speeds,
  promptTokens: number,
  cachedTokens: number,
  expectedOutput: number,
  now: number,
  out: LatencyPrediction,
): LatencyPrediction {
  const t = coldTable;
  const ix = coldRow;
  t.jobs[ix] = rec.jobs;
  t.outputSum[ix] = rec.outputSum;
  t.prefillFreeAt[ix] = rec.prefillFreeAt;
  t.overheadMs[ix] = speeds.overheadMs;
  t.prefillMsPerToken[ix] = speeds.prefillMsPerToken;
  t.congestionMs[ix] = speeds.congestionMs;
  t.decodeMsPerToken[ix] = speeds.decodeMsPerToken;
  t.decodeSlopeMs[ix] = speeds.decodeSlopeMs;
  const r = coldRequest;
  r.keepParts = true;
  r.promptTokens = promptTokens;
  r.expectedOutput = expectedOutput;
  r.now = now;
  const b = coldBatch;
  b.reserve(1);
  b.cachedTokens[0] = cachedTokens;
  coldNodes[0] = node;
  predictRows(t, undefined, coldNodes, 1, coldRows, r, b);
  coldNodes[0] = undefined as unknown as NodeSnapshot; // hold no snapshot
  out.ttftMs = b.ttftMs[0] as number;
  out.totalMs = b.totalMs[0] as number;
  out.waitMs = b.waitMs[0] as number;
  return out;
}

/**
 * Predicts one request's TTFT and completion time on each of the first `n` nodes (the gpu_aware
 * model, README.md), and returns the least objective (+Infinity when n is 0):
 *
 *   wait   = own prefill backlog (virtual queue of what we dispatched)
 *          + engine admission wait (waiting requests × mean remaining decode time / running,
 *            plus a KV-pressure share of it when kv usage > KV_HIGH)
 *   ttft   = overhead + wait + uncached prompt tokens × prefill ms/token
 *            + sequences on the node × learned congestion ms
 *            + prefill steps × decode step time of the running batch (chunked prefill)
 *   total  = ttft + (expected output − 1) × (decode ms/token + slope × sequences in the batch)
 *
 * Node i's accounting and speeds come from its record's row of `table`: row `at[i]`, or, with a
 * `fleet`, the row of the record at candidate position `at[i]` (FleetState.indexAt), its hot
 * copy made current for `request.model` on the way. The engine's figures are used only when
 * present and healthy; otherwise our own accounting (jobs we dispatched, their expected tokens)
 * stands in for them.
 *
 * One loop for the whole list, reading each node once: the model is too big for V8 to inline,
 * and calling it per candidate cost ~25 ns each, about what the arithmetic itself costs.
 */
export function predictRows(
  table: RecordTable,
  fleet: FleetState | undefined,
  nodes: readonly NodeSnapshot[],
  n: number,
  at: Int32Array,
  request: RequestFigures,
  batch: PredictionBatch,
): number {
  // At most n records are created below (first sight of new nodes): room for them first, so the
  // arrays read into locals here stay the table's.
  if (fleet !== undefined) table.reserve(n);
  const { cachedTokens, ttftMs, totalMs, waitMs, objective } = batch;
  const {
    jobs,
    outputSum,
    prefillFreeAt,
    overheadMs,
    prefillMsPerToken,
    congestionMs,
    decodeMsPerToken,
    decodeSlopeMs,
  } = table;
  const { matched, matchEpoch } = table;
  const prompt = request.promptTokens;
  const expectedOutput = request.expectedOutput;
  const now = request.now;
  const ttftWeight = request.ttftWeight;
  const fromIndex = request.fromIndex;
  const epoch = request.matchEpoch; // NaN equals no row's epoch: no hits
  const blockTokens = request.blockTokens;
  const kvDiscount = request.kvDiscount;
  const keepParts = request.keepParts;
  const model = request.model;
  const modelId = request.modelId;
  const outputSteps = Math.max(0, expectedOutput - 1);
  const hotModel = table.hotModel;
  // Prefill steps of a prompt with nothing cached, the common case (see below).
  const fullSteps = Math.max(1, Math.ceil(Math.max(0, prompt) / prefillChunkTokens));
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const node = nodes[i] as NodeSnapshot;
    let ix = at[i] as number;
    const inFlight = node.inFlight;
    if (fleet !== undefined) {
      // FleetState.indexAt and hotAt, inlined: the record bound at the node's ordinal when it is
      // still the same node and registration (one generation comparison; by candidate position,
      // id and GPU list for a snapshot without an ordinal), checked against the control plane's
      // in-flight count.
      const o = node.ordinal;
      const byOrdinal = o !== undefined && o >= 0;
      const key = byOrdinal ? o : ix;
      if (
        byOrdinal
          ? key < fleet.slotGen.length && fleet.slotGen[key] === node.generation
          : fleet.slotIds[key] === node.id && fleet.slotGpus[key] === node.gpus
      ) {
        ix = fleet.slotIx[key] as number;
        if ((jobs[ix] as number) > inFlight && Number.isFinite(inFlight)) fleet.checkJobs(ix, inFlight);
      } else ix = fleet.indexAt(at[i] as number, node);
      if (hotModel[ix] !== modelId) fleet.hotAt(ix, modelId, model, false);
    }
    const ownJobs = jobs[ix] as number;
    const decode = decodeMsPerToken[ix] as number;
    const slope = decodeSlopeMs[ix] as number;
    let cached = !fromIndex
      ? (cachedTokens[i] as number)
      : matchEpoch[ix] === epoch
        ? Math.min(prompt, (matched[ix] as number) * blockTokens)
        : 0;
    let batchSize = Math.max(finiteOr(inFlight, 0), ownJobs);
    let admitMs = 0;
    const engine = node.engine;
    if (engine !== undefined && engine.healthy === true) {
      const running = Math.max(0, finiteOr(engine.runningRequests, 0));
      const waiting = Math.max(0, finiteOr(engine.waitingRequests, 0));
      if (running + waiting > batchSize) batchSize = running + waiting;
      const kv = finiteOr(engine.kvCacheUsage, 0);
      if (cached > 0 && kv > kvHigh) cached *= kvDiscount;
      if (waiting > 0 || kv > kvHigh) {
        // Admission waits for running jobs to finish; one has on average half its output to go.
        const meanOut = ownJobs > 0 ? (outputSum[ix] as number) / ownJobs : expectedOutput;
        const slots = Math.max(1, running);
        const remainMs = (meanOut / 2) * (decode + slope * slots);
        const pressure = kv > kvHigh ? Math.min(1, (kv - kvHigh) / (1 - kvHigh)) : 0;
        admitMs = ((waiting + pressure) * remainMs) / slots;
      }
    }
    cachedTokens[i] = cached;
    const freeAt = prefillFreeAt[ix] as number;
    const queueMs = freeAt > now ? freeAt - now : 0;
    const uncached = Math.max(0, prompt - cached);
    const wait = queueMs + admitMs;
    const perToken = decode + slope * (batchSize + 1);
    // With chunked prefill every prefill step also decodes the running batch, so a busy node's
    // TTFT grows with its batch even when its prefill queue is empty; ignoring this overloads
    // fast GPUs.
    const prefillSteps =
      batchSize > 0 ? (cached === 0 ? fullSteps : Math.max(1, Math.ceil(uncached / prefillChunkTokens))) : 0;
    const ttftRaw =
      (overheadMs[ix] as number) +
      wait +
      uncached * (prefillMsPerToken[ix] as number) +
      batchSize * (congestionMs[ix] as number) +
      prefillSteps * perToken;
    const totalRaw = ttftRaw + outputSteps * perToken;
    // Finite and ≥ 0; ttft is then finite too, as total = ttft + a product of non-negatives.
    const ok = totalRaw >= 0 && totalRaw < Number.POSITIVE_INFINITY;
    const ttft = ok ? ttftRaw : worstMs;
    const total = ok ? totalRaw : worstMs;
    if (keepParts) {
      ttftMs[i] = ttft;
      totalMs[i] = total;
      waitMs[i] = ok ? wait : 0;
    }
    const o = total + ttftWeight * ttft;
    objective[i] = o;
    if (o < best) best = o;
  }
  return best;
}

// One candidate at a time through predictRows, for boundRows' exact evaluations: the same code
// as the full loop, so a node's exact objective is the one predictRows gives it, bit for bit.
const oneNode: NodeSnapshot[] = [];
const oneAt = new Int32Array(1);
const oneBatch = new PredictionBatch();

/**
 * Node i's exact objective (and cached tokens) into `batch`, through predictRows; marks it exact.
 * Returns the objective.
 */
export function predictOne(
  table: RecordTable,
  fleet: FleetState,
  nodes: readonly NodeSnapshot[],
  i: number,
  at: Int32Array,
  request: RequestFigures,
  batch: PredictionBatch,
): number {
  oneBatch.reserve(1);
  oneNode[0] = nodes[i] as NodeSnapshot;
  oneAt[0] = at[i] as number;
  const o = predictRows(table, fleet, oneNode, 1, oneAt, request, oneBatch);
  oneNode[0] = undefined as unknown as NodeSnapshot; // hold no snapshot
  batch.objective[i] = o;
  batch.cachedTokens[i] = oneBatch.cachedTokens[0] as number;
  batch.exact[i] = 1;
  return o;
}

/**
 * predictRows' least objective, found by branch and bound: a lower bound on every node's
 * objective (into `batch.lower`), from its row and our own accounting alone, and the exact
 * objective (predictOne) only of the nodes whose bound is below the least exact objective found
 * before them, so no other node can hold the least. Returns that least objective, the one
 * predictRows returns; `batch.exact` marks the nodes evaluated. Rows are bound and made current
 * on the way, node by node in order, as predictRows does.
 *
 * The bound leaves out only what the engine's figures add, and every term it keeps is one the
 * exact objective sums, in the same order, with no more than the exact operand: its running
 * and waiting requests (the batch can only grow), the admission wait (≥ 0) and a KV-pressure
 * discount of cached tokens (which can only make more prompt uncached, and a prefill step more).
 * Rounding is monotone, so the bound holds in floating point too. Reading the engine's object
 * is a quarter of the model's cost at 10,000 nodes (a dependent load, out of cache).
 */
export function boundRows(
  table: RecordTable,
  fleet: FleetState,
  nodes: readonly NodeSnapshot[],
  n: number,
  at: Int32Array,
  request: RequestFigures,
  batch: PredictionBatch,
): number {
  table.reserve(n);
  const { lower, exact } = batch;
  const {
    jobs,
    prefillFreeAt,
    overheadMs,
    prefillMsPerToken,
    congestionMs,
    decodeMsPerToken,
    decodeSlopeMs,
    matched,
    matchEpoch,
    hotModel,
  } = table;
  const prompt = request.promptTokens;
  const now = request.now;
  const ttftWeight = request.ttftWeight;
  const epoch = request.matchEpoch;
  const blockTokens = request.blockTokens;
  const model = request.model;
  const modelId = request.modelId;
  const outputSteps = Math.max(0, request.expectedOutput - 1);
  const fullSteps = Math.max(1, Math.ceil(Math.max(0, prompt) / prefillChunkTokens));
  // What predictRows gives a node whose prediction was garbage; no bound may exceed it.
  const worstObjective = worstMs + ttftWeight * worstMs;
  let best = Number.POSITIVE_INFINITY;
  let i = 0;
  while (i < n) {
    // The inner loop takes the nodes whose row is bound by ordinal and current, need no
    // reconciling and no exact prediction, and calls nothing: V8 keeps the arrays in registers
    // instead of reloading them after every call that could have replaced them. Any other node
    // leaves it for the general path below, in candidate order, and the loop resumes after it.
    const slotGen = fleet.slotGen;
    const slotIx = fleet.slotIx;
    for (; i < n; i++) {
      const node = nodes[i] as NodeSnapshot;
      const o = node.ordinal;
      if (!(o !== undefined && o >= 0 && o < slotGen.length && slotGen[o] === node.generation)) break;
      const ix = slotIx[o] as number;
      const inFlight = node.inFlight;
      if ((jobs[ix] as number) > inFlight && Number.isFinite(inFlight)) break;
      if (hotModel[ix] !== modelId) break;
      // The bound, as below (same terms, same order).
      const ownJobs = jobs[ix] as number;
      const decode = decodeMsPerToken[ix] as number;
      const slope = decodeSlopeMs[ix] as number;
      const cached = matchEpoch[ix] === epoch ? Math.min(prompt, (matched[ix] as number) * blockTokens) : 0;
      const batchSize = Math.max(finiteOr(inFlight, 0), ownJobs);
      const freeAt = prefillFreeAt[ix] as number;
      const queueMs = freeAt > now ? freeAt - now : 0;
      const uncached = Math.max(0, prompt - cached);
      const perToken = decode + slope * (batchSize + 1);
      const prefillSteps =
        batchSize > 0
          ? cached === 0
            ? fullSteps
            : Math.max(1, Math.ceil(uncached / prefillChunkTokens))
          : 0;
      const ttft =
        (overheadMs[ix] as number) +
        queueMs +
        uncached * (prefillMsPerToken[ix] as number) +
        batchSize * (congestionMs[ix] as number) +
        prefillSteps * perToken;
      const total = ttft + outputSteps * perToken;
      const bound = Math.min(total + ttftWeight * ttft, worstObjective);
      if (!(bound >= best)) break; // predicted in full, by the general path
      exact[i] = 0;
      lower[i] = bound; // not NaN: NaN fails bound >= best
    }
    if (i >= n) break;
    // The general path for node i: bind its row, make it current, bound it, predict it in full
    // when its bound is below the least objective so far.
    const node = nodes[i] as NodeSnapshot;
    const slot = at[i] as number;
    const inFlight = node.inFlight;
    // FleetState.indexAt and hotAt, inlined as in predictRows.
    let ix: number;
    const o = node.ordinal;
    const byOrdinal = o !== undefined && o >= 0;
    const key = byOrdinal ? o : slot;
    if (
      byOrdinal
        ? key < fleet.slotGen.length && fleet.slotGen[key] === node.generation
        : fleet.slotIds[key] === node.id && fleet.slotGpus[key] === node.gpus
    ) {
      ix = fleet.slotIx[key] as number;
      if ((jobs[ix] as number) > inFlight && Number.isFinite(inFlight)) fleet.checkJobs(ix, inFlight);
    } else ix = fleet.indexAt(slot, node);
    if (hotModel[ix] !== modelId) fleet.hotAt(ix, modelId, model, false);
    exact[i] = 0;
    const ownJobs = jobs[ix] as number;
    const decode = decodeMsPerToken[ix] as number;
    const slope = decodeSlopeMs[ix] as number;
    const cached = matchEpoch[ix] === epoch ? Math.min(prompt, (matched[ix] as number) * blockTokens) : 0;
    const batchSize = Math.max(finiteOr(inFlight, 0), ownJobs);
    const freeAt = prefillFreeAt[ix] as number;
    const queueMs = freeAt > now ? freeAt - now : 0;
    const uncached = Math.max(0, prompt - cached);
    const perToken = decode + slope * (batchSize + 1);
    const prefillSteps =
      batchSize > 0 ? (cached === 0 ? fullSteps : Math.max(1, Math.ceil(uncached / prefillChunkTokens))) : 0;
    const ttft =
      (overheadMs[ix] as number) +
      queueMs +
      uncached * (prefillMsPerToken[ix] as number) +
      batchSize * (congestionMs[ix] as number) +
      prefillSteps * perToken;
    const total = ttft + outputSteps * perToken;
    const bound = Math.min(total + ttftWeight * ttft, worstObjective);
    // NaN (garbage in the row) bounds nothing: 0 sends the node to exact evaluation.
    lower[i] = Number.isNaN(bound) ? 0 : bound;
    if (!(bound >= best)) {
      const o = predictOne(table, fleet, nodes, i, at, request, batch);
      if (o < best) best = o;
    }
    i++;
  }
  return best;
}
