// GPU and model figures for the simulator, from public spec sheets (sources in README.md).

/** Spec-sheet figures of one GPU, enough for a roofline step-time model and a fake nvidia-smi. */
export interface GpuProfile {
  readonly key: string;
  /** The name exactly as `nvidia-smi --query-gpu=name` prints it. */
  readonly name: string;
  /** memory.total as nvidia-smi reports it (a little under the marketing GB figure). */
  readonly vramMib: number;
  /** Peak DRAM bandwidth, GB/s (10^9 bytes). */
  readonly memoryBandwidthGBs: number;
  /** Dense (no sparsity) FP16/BF16 tensor-core peak with FP32 accumulate, TFLOP/s. */
  readonly bf16Tflops: number;
  readonly computeCapability: string;
  /** Board power limit (TDP), watts. */
  readonly tdpWatts: number;
  /** Typical idle draw with the engine loaded, watts (drives the simulated power.draw). */
  readonly idleWatts: number;
}

/** Architecture figures of one model, as in its Hugging Face config.json. */
export interface ModelProfile {
  readonly key: string;
  /** The Hugging Face repository id, reported as `root` in /v1/models. */
  readonly hfId: string;
  readonly params: number;
  readonly layers: number;
  readonly hiddenSize: number;
  readonly attentionHeads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Bytes per weight and per KV element: bf16. */
  readonly dtypeBytes: number;
  /** max_position_embeddings. */
  readonly maxContext: number;
}

/** GPUs the simulator can pretend to be, by CLI name. */
export const GPU_PROFILES: Readonly<Record<string, GpuProfile>> = Object.freeze({
  rtx3080: {
    key: "rtx3080",
    name: "NVIDIA GeForce RTX 3080",
    vramMib: 10240,
    memoryBandwidthGBs: 760,
    bf16Tflops: 59.5,
    computeCapability: "8.6",
    tdpWatts: 320,
    idleWatts: 22,
  },
  rtx3090: {
    key: "rtx3090",
    name: "NVIDIA GeForce RTX 3090",
    vramMib: 24576,
    memoryBandwidthGBs: 936,
    bf16Tflops: 71,
    computeCapability: "8.6",
    tdpWatts: 350,
    idleWatts: 25,
  },
  rtx4090: {
    key: "rtx4090",
    name: "NVIDIA GeForce RTX 4090",
    vramMib: 24564,
    memoryBandwidthGBs: 1008,
    bf16Tflops: 165.2,
    computeCapability: "8.9",
    tdpWatts: 450,
    idleWatts: 20,
  },
  l4: {
    key: "l4",
    name: "NVIDIA L4",
    vramMib: 23034,
    memoryBandwidthGBs: 300,
    bf16Tflops: 121,
    computeCapability: "8.9",
    tdpWatts: 72,
    idleWatts: 16,
  },
  "a100-80g": {
    key: "a100-80g",
    name: "NVIDIA A100-SXM4-80GB",
    vramMib: 81920,
    memoryBandwidthGBs: 2039,
    bf16Tflops: 312,
    computeCapability: "8.0",
    tdpWatts: 400,
    idleWatts: 60,
  },
  h100: {
    key: "h100",
    name: "NVIDIA H100 80GB HBM3",
    // memory.total and idle power read from the real H100 in shared/fixtures/gpu/nvidia-h100/.
    vramMib: 81559,
    memoryBandwidthGBs: 3350,
    bf16Tflops: 989.4,
    computeCapability: "9.0",
    tdpWatts: 700,
    idleWatts: 116,
  },
});

/** Models the simulator can serve, by CLI name. */
export const MODEL_PROFILES: Readonly<Record<string, ModelProfile>> = Object.freeze({
  "llama-3.2-1b": {
    key: "llama-3.2-1b",
    hfId: "meta-llama/Llama-3.2-1B-Instruct",
    params: 1_235_814_400,
    layers: 16,
    hiddenSize: 2048,
    attentionHeads: 32,
    kvHeads: 8,
    headDim: 64,
    dtypeBytes: 2,
    maxContext: 131072,
  },
  "llama-3.1-8b": {
    key: "llama-3.1-8b",
    hfId: "meta-llama/Llama-3.1-8B-Instruct",
    params: 8_030_261_248,
    layers: 32,
    hiddenSize: 4096,
    attentionHeads: 32,
    kvHeads: 8,
    headDim: 128,
    dtypeBytes: 2,
    maxContext: 131072,
  },
});

/** Looks up a GPU profile; an unknown name throws an Error listing the valid ones. */
export function getGpuProfile(name: string): GpuProfile {
  const profile = GPU_PROFILES[name];
  if (profile === undefined) {
    throw new Error(`unknown GPU profile "${name}"; valid: ${Object.keys(GPU_PROFILES).join(", ")}`);
  }
  return profile;
}

/** Looks up a model profile; an unknown name throws an Error listing the valid ones. */
export function getModelProfile(name: string): ModelProfile {
  const profile = MODEL_PROFILES[name];
  if (profile === undefined) {
    throw new Error(`unknown model profile "${name}"; valid: ${Object.keys(MODEL_PROFILES).join(", ")}`);
  }
  return profile;
}

/** Bytes of the model weights in bf16. */
export function weightBytes(model: ModelProfile): number {
  return model.params * model.dtypeBytes;
}

/** KV-cache bytes one token occupies: K and V, every layer, every KV head. */
export function kvBytesPerToken(model: ModelProfile): number {
  return 2 * model.layers * model.kvHeads * model.headDim * model.dtypeBytes;
}
