import type { JobChunk } from "../../gen/llmlb/v1/node_pb.js";
import type { JobApi } from "../../jobs/job.js";

/** OpenAI usage object. */
export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
}

/** Converts a chunk's usage to OpenAI's shape. */
export function usageOf(chunk: JobChunk): OpenAIUsage | undefined {
  const u = chunk.usage;
  if (!u) return undefined;
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    ...(u.cachedPromptTokens > 0 ? { prompt_tokens_details: { cached_tokens: u.cachedPromptTokens } } : {}),
  };
}

const decoder = new TextDecoder();

/** Collects a job's chunks into one non-streamed OpenAI response. */
export class ResponseAccumulator {
  private text: string[] = [];
  private finishReason: string | null = null;
  private usage: OpenAIUsage | undefined;
  private bodyJson: Uint8Array | undefined;

  constructor(
    private readonly api: JobApi,
    private readonly id: string,
    private readonly model: string,
    private readonly created: number,
  ) {}

  add(chunk: JobChunk): void {
    if (chunk.textDelta) this.text.push(chunk.textDelta);
    if (chunk.finishReason) this.finishReason = chunk.finishReason;
    this.usage = usageOf(chunk) ?? this.usage;
    if (chunk.bodyJson.length > 0) this.bodyJson = chunk.bodyJson;
  }

  /** The final response body. */
  result(): unknown {
    const usage = this.usage ?? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
    if (this.api === "embedding") {
      const body = this.bodyJson
        ? (JSON.parse(decoder.decode(this.bodyJson)) as Record<string, unknown>)
        : { object: "list", data: [] };
      return { ...body, model: this.model };
    }
    const content = this.text.join("");
    if (this.api === "chat") {
      return {
        id: this.id,
        object: "chat.completion",
        created: this.created,
        model: this.model,
        choices: [
          {
            index: 0,
            message: { role: "assistant", content },
            logprobs: null,
            finish_reason: this.finishReason ?? "stop",
          },
        ],
        usage,
      };
    }
    return {
      id: this.id,
      object: "text_completion",
      created: this.created,
      model: this.model,
      choices: [{ index: 0, text: content, logprobs: null, finish_reason: this.finishReason ?? "stop" }],
      usage,
    };
  }
}

/** Formats a job's chunks as OpenAI SSE events, exactly as OpenAI streams them. */
export class SseFormatter {
  private roleSent = false;
  private usage: OpenAIUsage | undefined;

  constructor(
    private readonly api: Exclude<JobApi, "embedding">,
    private readonly id: string,
    private readonly model: string,
    private readonly created: number,
    private readonly includeUsage: boolean,
  ) {}

  /** SSE text for one chunk (may be empty when the chunk carries only usage). */
  format(chunk: JobChunk): string {
    this.usage = usageOf(chunk) ?? this.usage;
    const finish = chunk.finishReason || null;
    if (!chunk.textDelta && !finish && this.roleSent) return "";
    if (this.api === "chat") {
      const delta: Record<string, string> = {};
      if (!this.roleSent) {
        delta.role = "assistant";
        this.roleSent = true;
      }
      if (chunk.textDelta || !finish) delta.content = chunk.textDelta;
      return event({
        id: this.id,
        object: "chat.completion.chunk",
        created: this.created,
        model: this.model,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
        ...(this.includeUsage ? { usage: null } : {}),
      });
    }
    this.roleSent = true;
    return event({
      id: this.id,
      object: "text_completion",
      created: this.created,
      model: this.model,
      choices: [{ index: 0, text: chunk.textDelta, logprobs: null, finish_reason: finish }],
      ...(this.includeUsage ? { usage: null } : {}),
    });
  }

  /** The closing events: the usage chunk when asked for, then [DONE]. */
  end(): string {
    let out = "";
    if (this.includeUsage) {
      out += event({
        id: this.id,
        object: this.api === "chat" ? "chat.completion.chunk" : "text_completion",
        created: this.created,
        model: this.model,
        choices: [],
        usage: this.usage ?? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
      });
    }
    return `${out}data: [DONE]\n\n`;
  }
}

/** One SSE `data:` event. */
export function event(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}
