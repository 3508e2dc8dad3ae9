// OpenAI response bodies and SSE chunks, shaped as vLLM's OpenAI server sends them.
import type { GenerationRequest } from "./requests.js";

/** Token counts of one request. */
export interface UsageCounts {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cachedTokens: number;
}

/** Identity fields shared by every chunk of one response. */
export interface ResponseIdentity {
  readonly id: string;
  readonly created: number;
  readonly model: string;
}

function usageJson(u: UsageCounts): object {
  return {
    prompt_tokens: u.promptTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    completion_tokens: u.completionTokens,
    prompt_tokens_details: { cached_tokens: u.cachedTokens },
  };
}

/** The non-streamed body of a finished chat or text completion. */
export function completionBody(
  req: GenerationRequest,
  ident: ResponseIdentity,
  text: string,
  finishReason: string,
  usage: UsageCounts,
): object {
  const choice =
    req.kind === "chat"
      ? {
          index: 0,
          message: { role: "assistant", content: text, refusal: null, tool_calls: [] },
          logprobs: null,
          finish_reason: finishReason,
          stop_reason: null,
        }
      : { index: 0, text, logprobs: null, finish_reason: finishReason, stop_reason: null };
  return {
    id: ident.id,
    object: req.kind === "chat" ? "chat.completion" : "text_completion",
    created: ident.created,
    model: ident.model,
    choices: [choice],
    usage: usageJson(usage),
  };
}

/** One `data: {json}\n\n` SSE event. */
export function sseEvent(payload: object): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

/** The event that ends every stream. */
export const SSE_DONE = "data: [DONE]\n\n";

/**
 * SSE text for one generated token. A chat stream opens with a role-only delta before the first
 * content; the last token carries finish_reason (vLLM does not send a separate empty-delta chunk).
 * With include_usage every chunk has `"usage": null`, as OpenAI sends it.
 */
export function tokenEvents(
  req: GenerationRequest,
  ident: ResponseIdentity,
  text: string,
  index: number,
  finishReason: string | null,
): string {
  const extra = req.includeUsage ? { usage: null } : {};
  if (req.kind === "completion") {
    return sseEvent({
      id: ident.id,
      object: "text_completion",
      created: ident.created,
      model: ident.model,
      choices: [{ index: 0, text, logprobs: null, finish_reason: finishReason, stop_reason: null }],
      ...extra,
    });
  }
  const chunk = (delta: object, finish: string | null): string =>
    sseEvent({
      id: ident.id,
      object: "chat.completion.chunk",
      created: ident.created,
      model: ident.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...extra,
    });
  const head = index === 0 ? chunk({ role: "assistant", content: "" }, null) : "";
  return head + chunk({ content: text }, finishReason);
}

/** The include_usage chunk: empty choices, totals in usage. */
export function usageEvent(req: GenerationRequest, ident: ResponseIdentity, usage: UsageCounts): string {
  return sseEvent({
    id: ident.id,
    object: req.kind === "chat" ? "chat.completion.chunk" : "text_completion",
    created: ident.created,
    model: ident.model,
    choices: [],
    usage: usageJson(usage),
  });
}

/** GET /v1/models in vLLM's shape. */
export function modelsBody(servedModel: string, root: string, created: number, maxModelLen: number): object {
  return {
    object: "list",
    data: [
      {
        id: servedModel,
        object: "model",
        created,
        owned_by: "vllm",
        root,
        parent: null,
        max_model_len: maxModelLen,
        permission: [
          {
            id: `modelperm-${servedModel}`,
            object: "model_permission",
            created,
            allow_create_engine: false,
            allow_sampling: true,
            allow_logprobs: true,
            allow_search_indices: false,
            allow_view: true,
            allow_fine_tuning: false,
            organization: "*",
            group: null,
            is_blocking: false,
          },
        ],
      },
    ],
  };
}

/** POST /v1/embeddings body; vectors as float arrays or base64 little-endian float32. */
export function embeddingsBody(
  vectors: readonly number[][],
  base64: boolean,
  ident: ResponseIdentity,
  promptTokens: number,
): object {
  return {
    id: ident.id,
    object: "list",
    created: ident.created,
    model: ident.model,
    data: vectors.map((v, index) => ({
      index,
      object: "embedding",
      embedding: base64 ? Buffer.from(new Float32Array(v).buffer).toString("base64") : v,
    })),
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens, completion_tokens: 0 },
  };
}
