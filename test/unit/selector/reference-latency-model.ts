import type { NodeSnapshot } from "../../../src/nodes/types.js";
import { finiteOr } from "../../../src/selector/node-figures.js";
import type { FleetState } from "../../../src/selector/state/fleet-state.js";
import {
  KV_HIGH,
  PREFILL_CHUNK_TOKENS,
  type PredictionBatch,
  type RequestFigures,
  WORST_MS,
} from "../../../src/selector/state/latency-model.js";
import type { RecordTable } from "../../../src/selector/state/record-table.js";

// gpu_aware's model loop as it was before the decision-latency work on it (commit eea4fae), kept
// verbatim as the reference the differential test holds the optimised predictRows to: the same
// objective, bit for bit, for every node, so the picker sees the same scores and decides the same.

export function predictRowsReference(
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
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const node = nodes[i] as NodeSnapshot;
    let ix = at[i] as number;
    if (fleet !== undefined) {
      ix = fleet.indexAt(ix, node);
      fleet.hotAt(ix, modelId, model, false);
    }
    const ownJobs = jobs[ix] as number;
    const decode = decodeMsPerToken[ix] as number;
    const slope = decodeSlopeMs[ix] as number;
    let cached = !fromIndex
      ? (cachedTokens[i] as number)
      : matchEpoch[ix] === epoch
        ? Math.min(prompt, (matched[ix] as number) * blockTokens)
        : 0;
    let batchSize = Math.max(finiteOr(node.inFlight, 0), ownJobs);
    let admitMs = 0;
    const engine = node.engine;
    if (engine !== undefined && engine.healthy === true) {
      const running = Math.max(0, finiteOr(engine.runningRequests, 0));
      const waiting = Math.max(0, finiteOr(engine.waitingRequests, 0));
      if (running + waiting > batchSize) batchSize = running + waiting;
      const kv = finiteOr(engine.kvCacheUsage, 0);
      if (cached > 0 && kv > KV_HIGH) cached *= kvDiscount;
      if (waiting > 0 || kv > KV_HIGH) {
        // Admission waits for running jobs to finish; one has on average half its output to go.
        const meanOut = ownJobs > 0 ? (outputSum[ix] as number) / ownJobs : expectedOutput;
        const slots = Math.max(1, running);
        const remainMs = (meanOut / 2) * (decode + slope * slots);
        const pressure = kv > KV_HIGH ? Math.min(1, (kv - KV_HIGH) / (1 - KV_HIGH)) : 0;
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
    const prefillSteps = batchSize > 0 ? Math.max(1, Math.ceil(uncached / PREFILL_CHUNK_TOKENS)) : 0;
    const ttftRaw =
      (overheadMs[ix] as number) +
      wait +
      uncached * (prefillMsPerToken[ix] as number) +
      batchSize * (congestionMs[ix] as number) +
      prefillSteps * perToken;
    const totalRaw = ttftRaw + outputSteps * perToken;
    // Finite and ≥ 0; ttft is then finite too, as total = ttft + a product of non-negatives.
    const ok = totalRaw >= 0 && totalRaw < Number.POSITIVE_INFINITY;
    const ttft = ok ? ttftRaw : WORST_MS;
    const total = ok ? totalRaw : WORST_MS;
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
