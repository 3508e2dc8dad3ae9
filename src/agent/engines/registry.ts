import { createLlamacppAdapter } from "./llamacpp.js";
import { createOllamaAdapter } from "./ollama.js";
import { createOpenAiAdapter } from "./openai.js";
import { createSglangAdapter } from "./sglang.js";
import { createSimAdapter } from "./sim.js";
import { createTgiAdapter } from "./tgi.js";
import type { EngineAdapter, EngineAdapterOptions, EngineKindName } from "./types.js";
import { createVllmAdapter } from "./vllm.js";

const FACTORIES: Record<EngineKindName, (baseUrl: string, opts: EngineAdapterOptions) => EngineAdapter> = {
  vllm: createVllmAdapter,
  sglang: createSglangAdapter,
  llamacpp: createLlamacppAdapter,
  ollama: createOllamaAdapter,
  tgi: createTgiAdapter,
  openai: createOpenAiAdapter,
  sim: createSimAdapter,
};

/** Every engine kind createEngineAdapter accepts. */
export const ENGINE_KINDS = Object.keys(FACTORIES) as readonly EngineKindName[];

/** True when `kind` names a supported engine (for validating CLI/config input). */
export function isEngineKind(kind: string): kind is EngineKindName {
  return Object.hasOwn(FACTORIES, kind);
}

/** Creates the adapter for an engine; an unknown kind throws an Error listing the valid names. */
export function createEngineAdapter(
  kind: EngineKindName,
  baseUrl: string,
  opts?: { apiKey?: string; timeoutMs?: number },
): EngineAdapter {
  if (!isEngineKind(kind)) {
    throw new Error(`unknown engine kind "${String(kind)}"; valid kinds: ${ENGINE_KINDS.join(", ")}`);
  }
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new Error(`invalid engine URL "${baseUrl}"`);
  }
  // OpenAI SDK base URLs end in /v1; the adapters add /v1 themselves.
  return FACTORIES[kind](url.href.replace(/\/+$/, "").replace(/\/v1$/, ""), opts ?? {});
}
