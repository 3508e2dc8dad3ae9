import { LbError } from "../errors.js";
import {
  ChatRole,
  type CreateChatCompletionRequest,
  type CreateCompletionRequest,
  type SamplingParams,
  type StreamChatCompletionRequest,
} from "../gen/llmlb/v1/dispatch_pb.js";

// The same bounds the OpenAI facade's JSON schemas enforce, so both doors accept the same requests.
const MAX_MODEL_CHARS = 256;
const MAX_MESSAGES = 100_000;
const MAX_NAME_CHARS = 256;
const MAX_STOP = 16;
const MAX_TOKENS = 1_000_000;

const ROLE_NAMES: Partial<Record<ChatRole, string>> = {
  [ChatRole.SYSTEM]: "system",
  [ChatRole.USER]: "user",
  [ChatRole.ASSISTANT]: "assistant",
  [ChatRole.TOOL]: "tool",
  [ChatRole.DEVELOPER]: "developer",
};

function invalid(param: string, message: string): LbError {
  return new LbError("invalid_request", message, { param });
}

function checkModel(model: string): void {
  if (model.trim() === "") throw invalid("model", "model is required.");
  if (model.length > MAX_MODEL_CHARS)
    throw invalid("model", `model must be at most ${MAX_MODEL_CHARS} characters.`);
}

function checkRange(param: string, value: number | undefined, min: number, max: number): void {
  if (value !== undefined && !(value >= min && value <= max)) {
    throw invalid(param, `${param} must be between ${min} and ${max}.`);
  }
}

/** The OpenAI fields for sampling parameters, validated; unset fields are left out (engine defaults). */
function samplingFields(s: SamplingParams | undefined): Record<string, unknown> {
  if (!s) return {};
  checkRange("sampling.max_tokens", s.maxTokens, 1, MAX_TOKENS);
  checkRange("sampling.temperature", s.temperature, 0, 2);
  checkRange("sampling.top_p", s.topP, 0, 1);
  checkRange("sampling.presence_penalty", s.presencePenalty, -2, 2);
  checkRange("sampling.frequency_penalty", s.frequencyPenalty, -2, 2);
  if (s.stop.length > MAX_STOP)
    throw invalid("sampling.stop", `sampling.stop holds at most ${MAX_STOP} sequences.`);
  if (s.stop.some((x) => x === ""))
    throw invalid("sampling.stop", "sampling.stop must not hold empty strings.");
  const out: Record<string, unknown> = {};
  if (s.maxTokens !== undefined) out.max_tokens = s.maxTokens;
  if (s.temperature !== undefined) out.temperature = s.temperature;
  if (s.topP !== undefined) out.top_p = s.topP;
  if (s.stop.length > 0) out.stop = [...s.stop];
  // int64 arrives as bigint; engines take a JSON number, and seeds beyond 2^53 are not meaningful.
  if (s.seed !== undefined) out.seed = Number(s.seed);
  if (s.presencePenalty !== undefined) out.presence_penalty = s.presencePenalty;
  if (s.frequencyPenalty !== undefined) out.frequency_penalty = s.frequencyPenalty;
  if (s.ignoreEos !== undefined) out.ignore_eos = s.ignoreEos;
  return out;
}

/** Validates a chat request and builds the OpenAI body the engine receives. */
export function chatBody(
  req: CreateChatCompletionRequest | StreamChatCompletionRequest,
): Record<string, unknown> {
  checkModel(req.model);
  if (req.messages.length === 0) throw invalid("messages", "messages must hold at least one message.");
  if (req.messages.length > MAX_MESSAGES)
    throw invalid("messages", `messages holds at most ${MAX_MESSAGES} messages.`);
  let text = 0;
  const messages = req.messages.map((m, i) => {
    const role = ROLE_NAMES[m.role];
    if (!role)
      throw invalid(
        `messages[${i}].role`,
        `messages[${i}].role is required (system, user, assistant, tool or developer).`,
      );
    if (m.name.length > MAX_NAME_CHARS)
      throw invalid(
        `messages[${i}].name`,
        `messages[${i}].name must be at most ${MAX_NAME_CHARS} characters.`,
      );
    text += m.content.length;
    return m.name ? { role, content: m.content, name: m.name } : { role, content: m.content };
  });
  if (text === 0) throw invalid("messages", "messages hold no text: every content is empty.");
  return { model: req.model, messages, ...samplingFields(req.sampling) };
}

/** Validates a legacy completion request and builds the OpenAI body the engine receives. */
export function completionBody(req: CreateCompletionRequest): Record<string, unknown> {
  checkModel(req.model);
  if (req.prompt === "") throw invalid("prompt", "prompt is required and must not be empty.");
  return { model: req.model, prompt: req.prompt, ...samplingFields(req.sampling) };
}
