// Parsing and validation of OpenAI request bodies, with vLLM's error shapes and messages.
import type { PromptInput } from "./text.js";
import { countPromptTokens, EMBEDDING_DIM, renderChat } from "./text.js";

/** Default max_tokens when a request sets none (capped by what the context leaves). */
export const DEFAULT_MAX_TOKENS = 256;

/** An HTTP error with an OpenAI-shaped body; thrown by parsers, rendered by the server. */
export class SimHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
    this.name = "SimHttpError";
  }
}

/** vLLM's error types by status (it names them after the OpenAI SDK's exception classes). */
function errorType(status: number): string {
  switch (status) {
    case 400:
      return "BadRequestError";
    case 401:
      return "AuthenticationError";
    case 403:
      return "PermissionDeniedError";
    case 404:
      return "NotFoundError";
    case 413:
      return "RequestEntityTooLarge";
    case 429:
      return "RateLimitError";
    case 503:
      return "ServiceUnavailableError";
    default:
      return status >= 500 ? "InternalServerError" : "BadRequestError";
  }
}

/** The OpenAI error body as vLLM sends it: `code` is the numeric HTTP status. */
export function errorBody(status: number, message: string, param: string | null = null): object {
  return { error: { message, type: errorType(status), param, code: status } };
}

/** A parsed /v1/chat/completions or /v1/completions request, reduced to what the engine needs. */
export interface GenerationRequest {
  readonly kind: "chat" | "completion";
  readonly prompt: PromptInput;
  readonly promptTokens: number;
  readonly maxTokens: number;
  readonly ignoreEos: boolean;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  readonly seed: number | undefined;
}

/** A parsed /v1/embeddings request. */
export interface EmbeddingRequest {
  readonly inputs: readonly PromptInput[];
  readonly dims: number;
  readonly base64: boolean;
}

/** What validation checks against. */
export interface ParseContext {
  readonly servedModel: string;
  readonly maxModelLen: number;
}

type Json = Record<string, unknown>;

function asObject(body: unknown): Json {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new SimHttpError(400, "Request body must be a JSON object.");
  }
  return body as Json;
}

function checkModel(body: Json, ctx: ParseContext): void {
  const model = body.model;
  // vLLM serves the first served model name when a request names none.
  if (model === undefined || model === null) return;
  if (typeof model !== "string") throw new SimHttpError(400, "`model` must be a string.", "model");
  if (model !== ctx.servedModel)
    throw new SimHttpError(404, `The model \`${model}\` does not exist.`, "model");
}

function optionalBoolean(body: Json, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw new SimHttpError(400, `\`${key}\` must be a boolean.`, key);
  return v;
}

function optionalInteger(body: Json, key: string, min: number): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new SimHttpError(400, `\`${key}\` must be an integer >= ${min}.`, key);
  }
  return v;
}

function messageText(content: unknown, index: number): string {
  if (content === undefined || content === null) return "";
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    let text = "";
    for (const part of content) {
      if (typeof part === "object" && part !== null && typeof (part as Json).text === "string") {
        text += (part as Json).text as string;
      }
    }
    return text;
  }
  throw new SimHttpError(
    400,
    `messages[${index}].content must be a string or an array of parts.`,
    "messages",
  );
}

function generationCommon(
  body: Json,
  ctx: ParseContext,
  kind: "chat" | "completion",
  prompt: PromptInput,
): GenerationRequest {
  const n = optionalInteger(body, "n", 1);
  if (n !== undefined && n !== 1) throw new SimHttpError(400, "The simulator supports only n = 1.", "n");
  const stream = optionalBoolean(body, "stream") ?? false;
  const streamOptions = body.stream_options;
  let includeUsage = false;
  if (streamOptions !== undefined && streamOptions !== null) {
    if (!stream)
      throw new SimHttpError(400, "Stream options can only be defined when `stream=True`.", "stream_options");
    if (typeof streamOptions !== "object") {
      throw new SimHttpError(400, "`stream_options` must be an object.", "stream_options");
    }
    includeUsage = optionalBoolean(streamOptions as Json, "include_usage") ?? false;
  }
  const ignoreEos = optionalBoolean(body, "ignore_eos") ?? false;
  const seed = optionalInteger(body, "seed", Number.MIN_SAFE_INTEGER);
  const requested =
    kind === "chat"
      ? (optionalInteger(body, "max_completion_tokens", 1) ?? optionalInteger(body, "max_tokens", 1))
      : optionalInteger(body, "max_tokens", 1);
  const promptTokens = countPromptTokens(prompt);
  const where = kind === "chat" ? "messages" : "prompt";
  if (requested === undefined && promptTokens >= ctx.maxModelLen) {
    throw new SimHttpError(
      400,
      `This model's maximum context length is ${ctx.maxModelLen} tokens. However, your request has ` +
        `${promptTokens} input tokens. Please reduce the length of the input ${where}.`,
    );
  }
  const maxTokens = requested ?? Math.min(DEFAULT_MAX_TOKENS, ctx.maxModelLen - promptTokens);
  if (promptTokens + maxTokens > ctx.maxModelLen) {
    throw new SimHttpError(
      400,
      `This model's maximum context length is ${ctx.maxModelLen} tokens. However, you requested ` +
        `${promptTokens + maxTokens} tokens (${promptTokens} in the ${where}, ${maxTokens} in the completion). ` +
        `Please reduce the length of the ${where} or completion.`,
    );
  }
  return { kind, prompt, promptTokens, maxTokens, ignoreEos, stream, includeUsage, seed };
}

/** Validates a chat completion request; throws SimHttpError (400/404) like vLLM. */
export function parseChatRequest(raw: unknown, ctx: ParseContext): GenerationRequest {
  const body = asObject(raw);
  checkModel(body, ctx);
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new SimHttpError(400, "`messages` must be a non-empty array.", "messages");
  }
  const rendered = messages.map((m: unknown, i) => {
    if (typeof m !== "object" || m === null || typeof (m as Json).role !== "string") {
      throw new SimHttpError(400, `messages[${i}] must be an object with a string \`role\`.`, "messages");
    }
    return { role: (m as Json).role as string, content: messageText((m as Json).content, i) };
  });
  return generationCommon(body, ctx, "chat", { text: renderChat(rendered) });
}

function isTokenIds(v: unknown): v is number[] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "number" && Number.isInteger(x));
}

/** Validates a (legacy) completion request; one prompt: a string or a token-id array. */
export function parseCompletionRequest(raw: unknown, ctx: ParseContext): GenerationRequest {
  const body = asObject(raw);
  checkModel(body, ctx);
  let prompt = body.prompt;
  if (
    Array.isArray(prompt) &&
    prompt.length === 1 &&
    (typeof prompt[0] === "string" || isTokenIds(prompt[0]))
  ) {
    prompt = prompt[0];
  }
  if (typeof prompt === "string" && prompt.length > 0) {
    return generationCommon(body, ctx, "completion", { text: prompt });
  }
  if (isTokenIds(prompt)) return generationCommon(body, ctx, "completion", { ids: prompt });
  if (Array.isArray(prompt) && prompt.length > 1) {
    throw new SimHttpError(400, "The simulator supports one prompt per request.", "prompt");
  }
  throw new SimHttpError(400, "`prompt` must be a non-empty string or an array of token ids.", "prompt");
}

/** Validates an embeddings request. */
export function parseEmbeddingRequest(raw: unknown, ctx: ParseContext): EmbeddingRequest {
  const body = asObject(raw);
  checkModel(body, ctx);
  const input = body.input;
  let inputs: PromptInput[];
  if (typeof input === "string") inputs = [{ text: input }];
  else if (isTokenIds(input)) inputs = [{ ids: input }];
  else if (Array.isArray(input) && input.length > 0 && input.every((x) => typeof x === "string")) {
    inputs = (input as string[]).map((text) => ({ text }));
  } else if (Array.isArray(input) && input.length > 0 && input.every(isTokenIds)) {
    inputs = (input as number[][]).map((ids) => ({ ids }));
  } else {
    throw new SimHttpError(400, "`input` must be a string, an array of strings or token-id arrays.", "input");
  }
  for (const p of inputs) {
    const n = countPromptTokens(p);
    if (n > ctx.maxModelLen) {
      throw new SimHttpError(
        400,
        `This model's maximum context length is ${ctx.maxModelLen} tokens. However, you requested ${n} tokens in the input for embedding generation. Please reduce the length of the input.`,
        "input",
      );
    }
  }
  const dims = optionalInteger(body, "dimensions", 1) ?? EMBEDDING_DIM;
  if (dims > EMBEDDING_DIM) {
    throw new SimHttpError(400, `\`dimensions\` must be at most ${EMBEDDING_DIM}.`, "dimensions");
  }
  const format = body.encoding_format ?? "float";
  if (format !== "float" && format !== "base64") {
    throw new SimHttpError(400, "`encoding_format` must be 'float' or 'base64'.", "encoding_format");
  }
  return { inputs, dims, base64: format === "base64" };
}
