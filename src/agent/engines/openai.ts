import { createEngineHttp } from "./engine-http.js";
import { openAiEndpoint, parseOpenAiModels } from "./openai-models.js";
import { probeEngine } from "./probe.js";
import type { EngineAdapter, EngineAdapterOptions } from "./types.js";

/**
 * Any OpenAI-compatible server (LM Studio, LocalAI, a hosted API…): models from /v1/models, which
 * also serves as the health check. No load metrics: the control plane's in-flight count stands in.
 */
export function createOpenAiAdapter(baseUrl: string, opts: EngineAdapterOptions = {}): EngineAdapter {
  const http = createEngineHttp(baseUrl, {
    timeoutMs: opts.timeoutMs ?? 3000,
    ...(opts.apiKey && { apiKey: opts.apiKey }),
  });
  return {
    kind: "openai",
    baseUrl,
    version: () => Promise.resolve(""),
    async listModels() {
      return parseOpenAiModels(await http.json("/v1/models"));
    },
    probe() {
      return probeEngine(http, {
        healthPath: "/v1/models",
        signals: () =>
          Promise.resolve({ signals: {}, note: "generic OpenAI-compatible engine: no load metrics" }),
      });
    },
    endpointFor: openAiEndpoint,
  };
}
