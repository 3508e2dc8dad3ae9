import type { EngineModel } from "./types.js";

type Entry = Record<string, unknown>;

const positiveInt = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isFinite(v) && v > 0 ? Math.floor(v) : undefined;

/** The `data` array of an OpenAI list response, or [] when the body has another shape. */
export function listEntries(json: unknown): Entry[] {
  const data = (json as { data?: unknown } | null)?.data;
  return Array.isArray(data) ? data.filter((e): e is Entry => typeof e === "object" && e !== null) : [];
}

/**
 * Models from an OpenAI-compatible `GET /v1/models`. Context length comes from the field the engine
 * adds (vLLM/SGLang `max_model_len`, others `context_length`/`context_window`); a LoRA adapter
 * (vLLM: `parent` set, `max_model_len` null) runs on its base model and inherits the base's context.
 * `root` differing from `id` (vLLM `--served-model-name`) becomes an alias.
 */
export function parseOpenAiModels(json: unknown): EngineModel[] {
  const entries = listEntries(json).filter((e) => typeof e.id === "string" && e.id !== "");
  const contextOf = (e: Entry): number | undefined =>
    positiveInt(e.max_model_len) ?? positiveInt(e.context_length) ?? positiveInt(e.context_window);
  const byId = new Map(entries.map((e) => [e.id as string, e]));
  return entries.map((e) => {
    const id = e.id as string;
    const parent = typeof e.parent === "string" ? byId.get(e.parent) : undefined;
    const aliases: string[] = [];
    if (typeof e.root === "string" && e.root !== id && e.parent == null) aliases.push(e.root);
    return { id, aliases, maxContextTokens: contextOf(e) ?? (parent ? contextOf(parent) : undefined) ?? 0 };
  });
}

/** The OpenAI-compatible paths every supported engine serves. */
export function openAiEndpoint(kind: "chat" | "completion" | "embedding"): string {
  switch (kind) {
    case "chat":
      return "/v1/chat/completions";
    case "completion":
      return "/v1/completions";
    case "embedding":
      return "/v1/embeddings";
  }
}
