import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  ChatRole,
  type CreateChatCompletionRequest,
  type CreateChatCompletionResponseSchema,
  type CreateCompletionRequest,
  type CreateCompletionResponseSchema,
  type StreamChatCompletionRequest,
  type StreamChatCompletionResponseSchema,
} from "../gen/llmlb/v1/dispatch_pb.js";
import type { Credentials, Principal } from "../http/principal.js";
import { type CallSpecDeps, callSpec } from "./call-spec.js";
import { runUnary, streamChat } from "./inference-calls.js";
import type { JobRunner, Settle } from "./job-runner.js";
import { chatBody, completionBody } from "./request-body.js";
import { authenticateCall, type HeaderReader } from "./rpc-auth.js";

/**
 * What an inference handler needs of its call: Connect's HandlerContext has it, and so does the
 * gRPC fast path (grpc-fast-path.ts), so both doors run the very same handlers.
 */
export interface CallContext {
  readonly requestHeader: HeaderReader;
  /** Aborts when the client cancels or the call's deadline passes. */
  readonly signal: AbortSignal;
  /** Milliseconds left before the call's deadline; undefined without one. */
  timeoutMs(): number | undefined;
}

/** What the inference handlers need from the control plane. */
export interface InferenceDeps extends CallSpecDeps {
  credentials: Credentials;
  /** Per-key admission (RPM/TPM limits), as the facade applies it; may return a settle function. */
  admit?: (p: Principal, estimatedTokens: number) => Settle | undefined;
}

type ChatResponse = MessageInitShape<typeof CreateChatCompletionResponseSchema>;
type CompletionResponse = MessageInitShape<typeof CreateCompletionResponseSchema>;
type StreamResponse = MessageInitShape<typeof StreamChatCompletionResponseSchema>;

/** The Dispatch service's inference methods, on the shared job runner. */
export interface InferenceHandlers {
  createChatCompletion(req: CreateChatCompletionRequest, ctx: CallContext): Promise<ChatResponse>;
  streamChatCompletion(req: StreamChatCompletionRequest, ctx: CallContext): AsyncGenerator<StreamResponse>;
  createCompletion(req: CreateCompletionRequest, ctx: CallContext): Promise<CompletionResponse>;
}

export function createInferenceHandlers(runner: JobRunner, deps: InferenceDeps): InferenceHandlers {
  const auth = (ctx: CallContext) => authenticateCall(ctx.requestHeader, deps.credentials, "inference");
  const admit = (p: Principal, spec: { selection: { promptTokens: number; maxTokens: number } }) =>
    deps.admit?.(p, spec.selection.promptTokens + spec.selection.maxTokens);
  return {
    async createChatCompletion(req, ctx) {
      const caller = await auth(ctx);
      const spec = callSpec("chat", chatBody(req), req, caller, ctx.timeoutMs(), deps);
      const { job, result } = await runUnary(runner, spec, caller, ctx.signal, admit(caller, spec));
      return {
        jobId: job.id,
        model: spec.model,
        message: { role: ChatRole.ASSISTANT, content: result.content },
        ...result.summary(),
      };
    },

    async *streamChatCompletion(req, ctx) {
      const caller = await auth(ctx);
      const spec = callSpec("chat", chatBody(req), req, caller, ctx.timeoutMs(), deps);
      yield* streamChat(runner, spec, caller, ctx.signal, admit(caller, spec));
    },

    async createCompletion(req, ctx) {
      const caller = await auth(ctx);
      const spec = callSpec("completion", completionBody(req), req, caller, ctx.timeoutMs(), deps);
      const { job, result } = await runUnary(runner, spec, caller, ctx.signal, admit(caller, spec));
      return { jobId: job.id, model: spec.model, text: result.content, ...result.summary() };
    },
  };
}
