import type { MessageInitShape } from "@bufbuild/protobuf";
import { ChatRole, type StreamChatCompletionResponseSchema } from "../gen/llmlb/v1/dispatch_pb.js";
import type { Principal } from "../http/principal.js";
import type { Job, JobSpec } from "../jobs/job.js";
import { AsyncQueue } from "./async-queue.js";
import { JobResult } from "./job-result.js";
import type { JobRunner, Settle } from "./job-runner.js";

/** A finished unary job: its id and what it produced. */
export interface UnaryOutcome {
  job: Job;
  result: JobResult;
}

/** Runs a job to its end and resolves with its collected result, or rejects with its LbError. */
export function runUnary(
  runner: JobRunner,
  spec: JobSpec,
  caller: Principal,
  signal: AbortSignal,
  settle?: Settle,
): Promise<UnaryOutcome> {
  return new Promise((resolve, reject) => {
    const result = new JobResult();
    const job = runner.start(
      spec,
      caller,
      signal,
      {
        onDispatched: (info) => result.routed(info),
        onChunk: (chunk) => result.add(chunk),
        onEnd: (err) => (err ? reject(err) : resolve({ job, result })),
      },
      settle,
    );
  });
}

type StreamResponse = MessageInitShape<typeof StreamChatCompletionResponseSchema>;
type StreamEvent = NonNullable<StreamResponse["event"]>;

/**
 * Runs a chat job as a stream: `accepted` at once (so the caller learns the job id even while the
 * job waits in the queue), `routed` per dispatch, text deltas, then `done`. An error after the first
 * delta ends the stream with its status; the caller going away cancels the job on its node.
 */
export async function* streamChat(
  runner: JobRunner,
  spec: JobSpec,
  caller: Principal,
  signal: AbortSignal,
  settle?: Settle,
): AsyncGenerator<StreamResponse> {
  const events = new AsyncQueue<StreamEvent>();
  const result = new JobResult();
  let roleSent = false;
  const job = runner.start(
    spec,
    caller,
    signal,
    {
      onDispatched: (info) => {
        result.routed(info);
        events.push({
          case: "routed",
          value: { nodeId: info.nodeId, routeReason: info.reason, attempt: info.attempt },
        });
      },
      onChunk: (chunk) => {
        result.add(chunk, false);
        if (!chunk.textDelta && roleSent) return;
        events.push({
          case: "delta",
          value: { role: roleSent ? ChatRole.UNSPECIFIED : ChatRole.ASSISTANT, content: chunk.textDelta },
        });
        roleSent = true;
      },
      onEnd: (err) => {
        if (err) return events.fail(err);
        events.push({ case: "done", value: result.summary() });
        events.close();
      },
    },
    settle,
  );
  try {
    // Events raised inside submit() (an immediate dispatch) wait in the queue behind this one.
    yield {
      jobId: job.id,
      event: { case: "accepted", value: { model: spec.model, queued: job.state === "queued" } },
    };
    for await (const event of events) yield { jobId: job.id, event };
  } finally {
    // Ended early (the client went away mid-stream): stop the job on its node.
    runner.abandon(job.id);
  }
}
