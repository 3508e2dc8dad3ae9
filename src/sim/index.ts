// The simulated inference engine: an OpenAI-compatible server that behaves like vLLM on a chosen GPU.
import { SimEngine } from "./engine.js";
import { SimStats } from "./metrics.js";
import { getGpuProfile, getModelProfile } from "./profiles.js";
import type { SimLogger } from "./server.js";
import { createSimServer } from "./server.js";
import type { Capacity } from "./step-model.js";
import { computeCapacity, defaultMaxNumBatchedTokens } from "./step-model.js";

export type { SimGpuJson } from "./gpu-state.js";
export type { GpuProfile, ModelProfile } from "./profiles.js";
export { GPU_PROFILES, getGpuProfile, getModelProfile, MODEL_PROFILES } from "./profiles.js";
export type { SimLogger } from "./server.js";
export { SIM_VERSION } from "./server.js";
export type { Capacity, StepTime, StepWork } from "./step-model.js";
export {
  computeCapacity,
  decodeTokensPerSecond,
  defaultMaxNumBatchedTokens,
  STEP_MODEL,
  stepTime,
} from "./step-model.js";

/** How to run one simulated engine. */
export interface SimOptions {
  /** GPU profile name (see GPU_PROFILES), e.g. "rtx4090". */
  profile: string;
  /** Model profile name (see MODEL_PROFILES), e.g. "llama-3.1-8b"; also the served model id. */
  model: string;
  /** Listen address; default 127.0.0.1. */
  host?: string;
  /** Listen port; 0 (the default) picks an ephemeral one. */
  port?: number;
  /** Seeds output text, lengths, embeddings and the GPU UUID; default 0. */
  seed?: number;
  /** Simulated seconds per real second: 10 runs ten times faster than real time; default 1. */
  timeScale?: number;
  /** vLLM's --max-num-seqs; default 256. */
  maxNumSeqs?: number;
  /** Zero-delay mode for overhead benchmarks: answer at once with a small fixed completion, no step model. */
  instant?: boolean;
  /** vLLM's --max-num-batched-tokens (per-step token budget); default 8192 on an H100, 2048 elsewhere, as vLLM. */
  maxNumBatchedTokens?: number;
  /** vLLM's --gpu-memory-utilization; default 0.9. */
  gpuMemoryUtilization?: number;
  /** vLLM's --max-model-len; default the model's context, capped by the KV cache. */
  maxModelLen?: number;
  /** A pino logger (or anything with info/warn/error). */
  logger?: SimLogger | undefined;
}

/** A listening simulator. */
export interface RunningSim {
  /** Base URL, e.g. http://127.0.0.1:9001 (no trailing slash, no /v1). */
  readonly url: string;
  readonly port: number;
  /** KV-cache capacity and memory figures the model derived for this GPU and model. */
  readonly capacity: Capacity;
  /** Stops the step loop and the server and closes open connections; leaves no timers. */
  close(): Promise<void>;
}

function checkPositive(name: string, value: number, integer: boolean): number {
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new Error(`${name} must be a positive ${integer ? "integer" : "number"}, got ${value}`);
  }
  return value;
}

/** Starts a simulated engine; throws on an unknown profile or a model that does not fit the GPU. */
export async function startSim(opts: SimOptions): Promise<RunningSim> {
  const gpu = getGpuProfile(opts.profile);
  const model = getModelProfile(opts.model);
  const capacity = computeCapacity(gpu, model, {
    ...(opts.gpuMemoryUtilization !== undefined ? { gpuMemoryUtilization: opts.gpuMemoryUtilization } : {}),
    ...(opts.maxModelLen !== undefined ? { maxModelLen: opts.maxModelLen } : {}),
  });
  const timeScale = checkPositive("timeScale", opts.timeScale ?? 1, false);
  const maxNumSeqs = checkPositive("maxNumSeqs", opts.maxNumSeqs ?? 256, true);
  const maxNumBatchedTokens = checkPositive(
    "maxNumBatchedTokens",
    opts.maxNumBatchedTokens ?? defaultMaxNumBatchedTokens(gpu),
    true,
  );
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`port must be 0-65535, got ${port}`);
  const host = opts.host ?? "127.0.0.1";

  const engine = opts.instant
    ? undefined
    : new SimEngine({ gpu, model, capacity, maxNumSeqs, maxNumBatchedTokens, timeScale });
  const sim = createSimServer({
    gpu,
    model,
    capacity,
    seed,
    timeScale,
    maxNumSeqs,
    maxNumBatchedTokens,
    engine,
    stats: engine?.stats ?? new SimStats(),
    logger: opts.logger,
  });
  await new Promise<void>((resolve, reject) => {
    sim.server.once("error", reject);
    sim.server.listen(port, host, () => {
      sim.server.off("error", reject);
      resolve();
    });
  }).catch((err: unknown) => {
    engine?.close();
    throw err;
  });
  const address = sim.server.address();
  const boundPort = typeof address === "object" && address !== null ? address.port : port;
  // A wildcard bind is reachable on loopback; clients cannot dial 0.0.0.0 or :: portably.
  const dialHost = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  const url = `http://${dialHost.includes(":") ? `[${dialHost}]` : dialHost}:${boundPort}`;
  opts.logger?.info(
    {
      url,
      gpu: gpu.name,
      model: model.key,
      kvTokens: capacity.kvTokens,
      maxModelLen: capacity.maxModelLen,
      maxNumSeqs,
      maxNumBatchedTokens,
      timeScale,
      instant: engine === undefined,
    },
    "simulated engine listening",
  );
  return { url, port: boundPort, capacity, close: sim.close };
}
