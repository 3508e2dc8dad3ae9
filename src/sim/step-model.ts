// The roofline model: how long one engine step takes and how much KV cache a GPU holds.
import type { GpuProfile, ModelProfile } from "./profiles.js";
import { kvBytesPerToken, weightBytes } from "./profiles.js";

const MIB = 1024 * 1024;

/** The constants of the model; README.md explains each choice. */
export const STEP_MODEL = Object.freeze({
  /** vLLM's default --gpu-memory-utilization. */
  gpuMemoryUtilization: 0.9,
  /** vLLM's default KV block size, tokens. */
  blockSize: 16,
  /** Non-KV memory inside vLLM's budget: peak activations of the profiling run, CUDA graphs, allocator slack. */
  runtimeReserveMib: 1536,
  /** Fraction of peak DRAM bandwidth that decode GEMVs reach. */
  memoryEfficiency: 0.8,
  /** Fraction of peak tensor FLOP/s that prefill GEMMs reach (model FLOPs utilisation). */
  computeEfficiency: 0.5,
  /** Fixed cost per step: scheduling, sampling and kernel launches (CUDA graphs keep it small). */
  stepOverheadSeconds: 0.001,
});

/**
 * vLLM's default per-step token budget (--max-num-batched-tokens) for its OpenAI server: 8192 on
 * GPUs with at least 70 GiB except the A100 (where it measured a regression), else 2048.
 */
export function defaultMaxNumBatchedTokens(gpu: GpuProfile): number {
  return gpu.vramMib >= 70 * 1024 && !gpu.name.includes("A100") ? 8192 : 2048;
}

/** What a GPU can hold for one model under vLLM's memory rules. */
export interface Capacity {
  readonly kvBlocks: number;
  /** kvBlocks × block size. */
  readonly kvTokens: number;
  /** The context limit served: the model's own, capped by what the KV cache can hold. */
  readonly maxModelLen: number;
  readonly weightsMib: number;
  readonly kvPoolMib: number;
  /** What nvidia-smi would show: vLLM pre-allocates its whole budget at start-up. */
  readonly vramUsedMib: number;
  readonly gpuMemoryUtilization: number;
}

/** Options that change the capacity, as vLLM's flags do. */
export interface CapacityOptions {
  readonly gpuMemoryUtilization?: number;
  readonly maxModelLen?: number;
}

/** KV capacity from VRAM: utilisation × VRAM − weights − runtime reserve; throws when the model does not fit. */
export function computeCapacity(gpu: GpuProfile, model: ModelProfile, opts: CapacityOptions = {}): Capacity {
  const util = opts.gpuMemoryUtilization ?? STEP_MODEL.gpuMemoryUtilization;
  if (!(util > 0 && util <= 1)) throw new Error(`gpuMemoryUtilization must be in (0, 1], got ${util}`);
  const budgetMib = gpu.vramMib * util;
  const weightsMib = weightBytes(model) / MIB;
  const kvPoolMib = budgetMib - weightsMib - STEP_MODEL.runtimeReserveMib;
  const kvBlocks = Math.floor((kvPoolMib * MIB) / (kvBytesPerToken(model) * STEP_MODEL.blockSize));
  if (kvBlocks < 1) {
    throw new Error(
      `model ${model.key} (${(weightsMib / 1024).toFixed(1)} GiB of bf16 weights) does not fit on ${gpu.key} ` +
        `(${gpu.name}, ${(gpu.vramMib / 1024).toFixed(1)} GiB, ${(budgetMib / 1024).toFixed(1)} GiB usable at ` +
        `gpu_memory_utilization ${util}): no room left for the KV cache`,
    );
  }
  const kvTokens = kvBlocks * STEP_MODEL.blockSize;
  let maxModelLen = Math.min(model.maxContext, kvTokens);
  if (opts.maxModelLen !== undefined) {
    if (!Number.isInteger(opts.maxModelLen) || opts.maxModelLen < 1) {
      throw new Error(`maxModelLen must be a positive integer, got ${opts.maxModelLen}`);
    }
    maxModelLen = Math.min(maxModelLen, opts.maxModelLen);
  }
  return {
    kvBlocks,
    kvTokens,
    maxModelLen,
    weightsMib: Math.round(weightsMib),
    kvPoolMib: Math.round(kvPoolMib),
    vramUsedMib: Math.round(budgetMib),
    gpuMemoryUtilization: util,
  };
}

/** The work of one step, summed over the sequences scheduled in it. */
export interface StepWork {
  /** Tokens whose forward pass runs this step: one per decoding sequence plus prefill chunk tokens. */
  readonly tokens: number;
  /** KV tokens attention reads (each scheduled sequence's context, including this step's tokens). */
  readonly kvTokensRead: number;
  /** Σ over new tokens of the context each attends to (drives attention FLOPs). */
  readonly attentionPairs: number;
}

/** Step time and its two roofline terms, in simulated seconds. */
export interface StepTime {
  readonly seconds: number;
  readonly memorySeconds: number;
  readonly computeSeconds: number;
}

/**
 * Step time = max(memory time, compute time) + fixed overhead. Memory: every weight once plus the KV
 * read and written. Compute: 2 FLOPs per parameter per token plus 4·layers·heads·headDim per
 * (token, context-token) pair for QKᵀ and PV.
 */
export function stepTime(gpu: GpuProfile, model: ModelProfile, work: StepWork): StepTime {
  const kvBytes = kvBytesPerToken(model);
  const bytes = weightBytes(model) + (work.kvTokensRead + work.tokens) * kvBytes;
  const memorySeconds = bytes / (gpu.memoryBandwidthGBs * 1e9 * STEP_MODEL.memoryEfficiency);
  const flops =
    2 * model.params * work.tokens +
    4 * model.layers * model.attentionHeads * model.headDim * work.attentionPairs;
  const computeSeconds = flops / (gpu.bf16Tflops * 1e12 * STEP_MODEL.computeEfficiency);
  return {
    seconds: Math.max(memorySeconds, computeSeconds) + STEP_MODEL.stepOverheadSeconds,
    memorySeconds,
    computeSeconds,
  };
}

/** The work of a decode step for `batch` sequences that each hold `context` tokens. */
export function decodeWork(batch: number, context: number): StepWork {
  return { tokens: batch, kvTokensRead: batch * (context + 1), attentionPairs: batch * (context + 1) };
}

/** The work of prefilling `tokens` new tokens after `cached` tokens already in the KV cache (causal attention). */
export function prefillWork(tokens: number, cached = 0): StepWork {
  return {
    tokens,
    kvTokensRead: cached + tokens,
    attentionPairs: tokens * cached + (tokens * (tokens + 1)) / 2,
  };
}

/** Aggregate decode throughput (tokens/s) the model predicts for a steady batch. */
export function decodeTokensPerSecond(
  gpu: GpuProfile,
  model: ModelProfile,
  batch: number,
  context: number,
): number {
  return batch / stepTime(gpu, model, decodeWork(batch, context)).seconds;
}
