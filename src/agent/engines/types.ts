import type { EngineLive } from "../../nodes/types.js";
import type { GpuReading } from "../collectors/types.js";

/** Inference engines the agent can sit beside. */
export type EngineKindName = "vllm" | "sglang" | "llamacpp" | "ollama" | "tgi" | "openai" | "sim";

/** A model the engine serves. */
export interface EngineModel {
  id: string;
  /** Other names a client may use for the same model (path basename, tag without ":latest", …). */
  aliases: string[];
  maxContextTokens: number /*0 unknown*/;
}

/** The engine's load signals plus a note; healthy=false + note when down. */
export interface EngineProbe extends EngineLive {
  note: string;
}

/** Kinds of OpenAI-compatible requests the agent forwards. */
export type EndpointKind = "chat" | "completion" | "embedding";

/** What the agent needs from an engine, whatever its kind. */
export interface EngineAdapter {
  readonly kind: EngineKindName;
  readonly baseUrl: string;
  /** "" when unknown */
  version(): Promise<string>;
  listModels(): Promise<EngineModel[]>;
  /** never throws: an unreachable engine is healthy=false with a note */
  probe(): Promise<EngineProbe>;
  /** Path of the OpenAI-compatible endpoint for a job kind ("/v1/chat/completions", ...). */
  endpointFor(kind: EndpointKind): string;
  /** Engine's own concurrency limit if it exposes one (e.g. llama.cpp slots), else undefined. */
  maxConcurrency?(): Promise<number | undefined>;
  /** Simulated GPU reading (sim engine only). */
  gpuReading?(): Promise<GpuReading>;
}

/** Options shared by every adapter. */
export interface EngineAdapterOptions {
  /** Sent as `Authorization: Bearer …` (llama.cpp --api-key, vLLM --api-key, hosted APIs). */
  apiKey?: string;
  /** Per-request timeout (default 3000 ms). */
  timeoutMs?: number;
}
