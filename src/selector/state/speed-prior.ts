import type { GpuFacts } from "../../nodes/types.js";
import { gpuSpec } from "../gpu-table.js";

/** First-principles speed of a node for a model, before any outcome has been observed. */
export interface SpeedPrior {
  /** Fixed cost of a request before its first token: network, scheduling, first decode step (ms). */
  readonly overheadMs: number;
  /** Prefill time per uncached prompt token (ms): compute-bound, 2·params FLOPs at ~40 % MFU. */
  readonly prefillMsPerToken: number;
  /** Decode time per output token of a lone sequence (ms): memory-bound, weights read once per step. */
  readonly decodeMsPerToken: number;
  /** Extra decode ms per token for each other sequence in the batch (KV reads, compute share). */
  readonly decodeSlopeMs: number;
}

const DEFAULT_PARAMS_B = 8;
const sizeMemo = new Map<string, number>();

/**
 * Parameter count in billions guessed from a model id ("llama-3.1-8b" → 8, "Qwen3-4B" → 4,
 * "gpt-oss-120b" → 120, "smollm-360m" → 0.36); 8 when the name says nothing.
 */
export function modelParamsB(model: string): number {
  const hit = sizeMemo.get(model);
  if (hit !== undefined) return hit;
  let size = DEFAULT_PARAMS_B;
  // Last "<number>b" / "<number>m" token not followed by a letter: "3.1-8b" → 8, "8x7b" → 7.
  const matches = [...model.toLowerCase().matchAll(/(\d+(?:\.\d+)?)([bm])(?![a-z])/g)];
  const last = matches[matches.length - 1];
  if (last !== undefined) {
    const n = Number(last[1]);
    const v = last[2] === "m" ? n / 1000 : n;
    if (Number.isFinite(v) && v > 0 && v < 10_000) size = v;
  }
  if (sizeMemo.size >= 4096) sizeMemo.clear();
  sizeMemo.set(model, size);
  return size;
}

/** Speed prior of a node (its GPUs, tensor-parallel when several) for a model of `paramsB` billion. */
export function speedPrior(gpus: readonly GpuFacts[], paramsB: number): SpeedPrior {
  let bandwidth = 0;
  let tflops = 0;
  for (const gpu of gpus) {
    const spec = gpuSpec(gpu.name);
    bandwidth += spec.bandwidthGBs;
    tflops += spec.tflops;
  }
  if (gpus.length === 0) {
    const spec = gpuSpec("");
    bandwidth = spec.bandwidthGBs;
    tflops = spec.tflops;
  } else if (gpus.length > 1) {
    // Tensor parallelism never scales perfectly: all-reduces eat ~15 %.
    bandwidth *= 0.85;
    tflops *= 0.85;
  }
  const bytes = 2 * paramsB; // GB of bf16 weights
  const decodeMsPerToken = (bytes / (bandwidth * 0.7)) * 1000;
  const prefillMsPerToken = (2 * paramsB) / (tflops * 0.4);
  return { overheadMs: 15, prefillMsPerToken, decodeMsPerToken, decodeSlopeMs: decodeMsPerToken * 0.02 };
}
