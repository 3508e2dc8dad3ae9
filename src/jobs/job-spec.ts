import type { JobApi, JobSpec } from "./job.js";
import { estimateTokens, prefixHashes, promptText } from "./prompt.js";

// Output tokens assumed when the request names no max: used only for estimates (fairness, prediction).
const DEFAULT_MAX_TOKENS_ESTIMATE = 256;

/** What either door (OpenAI facade or Dispatch API) knows about a validated request. */
export interface JobSpecInput {
  readonly api: JobApi;
  /** The OpenAI-shaped request body sent to the engine. */
  readonly body: Record<string, unknown>;
  /** The fair-queue user. */
  readonly userId: string;
  /** Deadline for queue wait plus run, from now. */
  readonly timeoutMs: number;
  /** Strategy asked for by this request, already checked to exist. */
  readonly strategy?: string | undefined;
}

/** Turns a validated request into a job spec: deadline, strategy override, token and prefix estimates. */
export function buildJobSpec(input: JobSpecInput, now = Date.now()): JobSpec {
  const { api, body, userId, strategy } = input;
  const text = promptText(body);
  const maxTokens = (body.max_completion_tokens ?? body.max_tokens ?? DEFAULT_MAX_TOKENS_ESTIMATE) as number;
  return {
    api,
    model: body.model as string,
    body,
    userId,
    deadlineAtMs: now + input.timeoutMs,
    ...(strategy !== undefined ? { strategy } : {}),
    selection: {
      model: body.model as string,
      userId,
      promptTokens: estimateTokens(text),
      maxTokens: api === "embedding" ? 0 : maxTokens,
      prefixHashes: api === "embedding" ? [] : prefixHashes(text),
    },
  };
}
