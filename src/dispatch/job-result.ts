import type { MessageInitShape } from "@bufbuild/protobuf";
import { FinishReason, type TokenUsageSchema } from "../gen/llmlb/v1/dispatch_pb.js";
import type { JobChunk } from "../gen/llmlb/v1/node_pb.js";

const FINISH: Record<string, FinishReason> = {
  stop: FinishReason.STOP,
  length: FinishReason.LENGTH,
  content_filter: FinishReason.CONTENT_FILTER,
  tool_calls: FinishReason.TOOL_CALLS,
  function_call: FinishReason.TOOL_CALLS,
};

/** An engine's finish reason string as the wire enum; unknown strings are UNSPECIFIED. */
export function finishReasonOf(s: string): FinishReason {
  return FINISH[s] ?? FinishReason.UNSPECIFIED;
}

/** Where a job ran and how often it was dispatched. */
export interface RouteInfo {
  nodeId: string;
  routeReason: string;
  attempts: number;
}

/** Collects a job's chunks into what a unary answer or a stream's `done` message carries. */
export class JobResult {
  private readonly text: string[] = [];
  private finish = "";
  private usage: MessageInitShape<typeof TokenUsageSchema> | undefined;
  readonly route: RouteInfo = { nodeId: "", routeReason: "", attempts: 0 };

  /** Records a dispatch (the last one wins after a failover). */
  routed(info: { nodeId: string; reason: string; attempt: number }): void {
    this.route.nodeId = info.nodeId;
    this.route.routeReason = info.reason;
    this.route.attempts = info.attempt;
  }

  /** Records a chunk; `keepText` is false for streams, which send text as it comes. */
  add(chunk: JobChunk, keepText = true): void {
    if (keepText && chunk.textDelta) this.text.push(chunk.textDelta);
    if (chunk.finishReason) this.finish = chunk.finishReason;
    const u = chunk.usage;
    if (u) {
      this.usage = {
        promptTokens: u.promptTokens,
        completionTokens: u.completionTokens,
        totalTokens: u.promptTokens + u.completionTokens,
        cachedPromptTokens: u.cachedPromptTokens,
      };
    }
  }

  /** The generated text so far. */
  get content(): string {
    return this.text.join("");
  }

  /** The end of the job: finish reason (STOP when the engine named none, as the facade does), usage, route. */
  summary(): { finishReason: FinishReason; usage: MessageInitShape<typeof TokenUsageSchema> } & RouteInfo {
    return {
      finishReason: this.finish ? finishReasonOf(this.finish) : FinishReason.STOP,
      usage: this.usage ?? { promptTokens: 0, completionTokens: 0, totalTokens: 0, cachedPromptTokens: 0 },
      ...this.route,
    };
  }
}
