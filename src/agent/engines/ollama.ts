import { createEngineHttp, type EngineHttp } from "./engine-http.js";
import { openAiEndpoint } from "./openai-models.js";
import { probeEngine } from "./probe.js";
import type { EngineAdapter, EngineAdapterOptions, EngineModel } from "./types.js";

interface OllamaModel {
  name: string;
  model?: string;
  context_length?: number;
}

/** The `models` array of /api/tags or /api/ps. */
export function ollamaModelList(json: unknown): OllamaModel[] {
  const models = (json as { models?: unknown } | null)?.models;
  if (!Array.isArray(models)) return [];
  return models.filter((m): m is OllamaModel => typeof (m as OllamaModel | null)?.name === "string");
}

/**
 * Models from /api/tags (on disk, loaded on demand) merged with /api/ps (loaded now; newer versions
 * give `context_length`). "llama3.2:latest" is also reachable as "llama3.2", as in Ollama's own CLI.
 */
export function parseOllamaModels(tags: unknown, ps: unknown): EngineModel[] {
  const loadedContext = new Map(ollamaModelList(ps).map((m) => [m.name, m.context_length]));
  const all = [...ollamaModelList(tags), ...ollamaModelList(ps)];
  const seen = new Set<string>();
  const out: EngineModel[] = [];
  for (const m of all) {
    if (seen.has(m.name)) continue;
    seen.add(m.name);
    const aliases = new Set<string>();
    if (m.name.endsWith(":latest")) aliases.add(m.name.slice(0, -":latest".length));
    if (m.model && m.model !== m.name) aliases.add(m.model);
    const ctx = loadedContext.get(m.name);
    out.push({
      id: m.name,
      aliases: [...aliases],
      maxContextTokens: typeof ctx === "number" && ctx > 0 ? ctx : 0,
    });
  }
  return out;
}

async function version(http: EngineHttp): Promise<string> {
  try {
    const v = ((await http.json("/api/version")) as { version?: unknown } | null)?.version;
    return typeof v === "string" ? v : "";
  } catch {
    return "";
  }
}

/**
 * Ollama: /api/version (health and version), /api/tags and /api/ps (models). Ollama has no /metrics
 * and no queue figures, so running/waiting/KV stay unknown and the control plane's own in-flight
 * count is the load signal for such nodes.
 */
export function createOllamaAdapter(baseUrl: string, opts: EngineAdapterOptions = {}): EngineAdapter {
  const http = createEngineHttp(baseUrl, {
    timeoutMs: opts.timeoutMs ?? 3000,
    ...(opts.apiKey && { apiKey: opts.apiKey }),
  });
  return {
    kind: "ollama",
    baseUrl,
    version: () => version(http),
    async listModels() {
      const [tags, ps] = await Promise.all([http.json("/api/tags"), http.json("/api/ps").catch(() => ({}))]);
      return parseOllamaModels(tags, ps);
    },
    probe() {
      return probeEngine(http, {
        healthPath: "/api/version",
        signals: async () => {
          const loaded = ollamaModelList(await http.json("/api/ps")).map((m) => m.name);
          return {
            signals: {},
            note: `no load metrics (ollama); loaded: ${loaded.length === 0 ? "none" : loaded.join(", ")}`,
          };
        },
      });
    },
    endpointFor: openAiEndpoint,
  };
}
