import type { NodeSnapshot } from "../../nodes/types.js";
import { engineUsable, finiteOr } from "../node-figures.js";
import type { NodeRecord, Speeds } from "./node-record.js";

/** Output of `predictLatency`; reused between calls, so copy what you keep. */
export interface LatencyPrediction {
  /** Predicted time to first token (ms). */
  ttftMs: number;
  /** Predicted time to the last token (ms). */
  totalMs: number;
  /** The part of ttftMs spent waiting before this request's own prefill (ms). */
  waitMs: number;
}

/** KV-cache usage above which an engine starts queueing or preempting sequences. */
export const KV_HIGH = 0.9;

/** Prompt tokens an engine prefills per step (vLLM's default max_num_batched_tokens on most GPUs). */
export const PREFILL_CHUNK_TOKENS = 2048;

/** A prediction no candidate can lose to; used when the inputs are garbage. */
export const WORST_MS = 1e12;

/**
 * Predicts one request's TTFT and completion time on a node (the gpu_aware model, README.md):
 *
 *   wait   = own prefill backlog (virtual queue of what we dispatched)
 *          + engine admission wait (waiting requests × mean remaining decode time / running,
 *            plus a KV-pressure share of it when kv usage > KV_HIGH)
 *   ttft   = overhead + wait + uncached prompt tokens × prefill ms/token
 *            + prefill steps × decode step time of the running batch (chunked prefill)
 *   total  = ttft + (expected output − 1) × (decode ms/token + slope × sequences in the batch)
 *
 * The engine's figures are used only when present and healthy; otherwise our own accounting
 * (jobs we dispatched, their expected tokens) stands in for them.
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
  const own = Math.max(finiteOr(node.inFlight, 0), rec.jobs);
  let batch = own;
  let admitMs = 0;
  if (engineUsable(node)) {
    const engine = node.engine as NonNullable<NodeSnapshot["engine"]>;
    const running = Math.max(0, finiteOr(engine.runningRequests, 0));
    const waiting = Math.max(0, finiteOr(engine.waitingRequests, 0));
    if (running + waiting > batch) batch = running + waiting;
    const kv = finiteOr(engine.kvCacheUsage, 0);
    if (waiting > 0 || kv > KV_HIGH) {
      // Admission waits for running jobs to finish; one has on average half its output to go.
      const meanOut = rec.jobs > 0 ? rec.outputSum / rec.jobs : expectedOutput;
      const slots = Math.max(1, running);
      const remainMs = (meanOut / 2) * (speeds.decodeMsPerToken + speeds.decodeSlopeMs * slots);
      const pressure = kv > KV_HIGH ? Math.min(1, (kv - KV_HIGH) / (1 - KV_HIGH)) : 0;
      admitMs = ((waiting + pressure) * remainMs) / slots;
    }
  }
  const queueMs = rec.prefillFreeAt > now ? rec.prefillFreeAt - now : 0;
  const uncached = Math.max(0, promptTokens - cachedTokens);
  const waitMs = queueMs + admitMs;
  const perToken = speeds.decodeMsPerToken + speeds.decodeSlopeMs * (batch + 1);
  // With chunked prefill every prefill step also decodes the running batch, so a busy node's TTFT
  // grows with its batch even when its prefill queue is empty; ignoring this overloads fast GPUs.
  const prefillSteps = batch > 0 ? Math.max(1, Math.ceil(uncached / PREFILL_CHUNK_TOKENS)) : 0;
  const ttft = speeds.overheadMs + waitMs + uncached * speeds.prefillMsPerToken + prefillSteps * perToken;
  const total = ttft + Math.max(0, expectedOutput - 1) * perToken;
  const ok = Number.isFinite(total) && total >= 0 && Number.isFinite(ttft);
  out.ttftMs = ok ? ttft : WORST_MS;
  out.totalMs = ok ? total : WORST_MS;
  out.waitMs = ok ? waitMs : 0;
  return out;
}
