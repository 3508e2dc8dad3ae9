import type { LbError } from "../errors.js";
import type { JobChunk } from "../gen/llmlb/v1/node_pb.js";
import type { SelectionRequest } from "../selector/types.js";

/** Which OpenAI endpoint a job serves. */
export type JobApi = "chat" | "completion" | "embedding";

/** Everything the scheduler needs to place and run one request. */
export interface JobSpec {
  readonly api: JobApi;
  /** The model as the client named it (id or alias). */
  readonly model: string;
  /** The OpenAI request body, validated. */
  readonly body: Record<string, unknown>;
  /** The fair-queue user: the API key's owner or the Dispatch caller's on-behalf-of user. */
  readonly userId: string;
  /** Unix ms after which the request fails with 504 / DEADLINE_EXCEEDED. */
  readonly deadlineAtMs: number;
  /** Strategy asked for by this request (x-llmlb-strategy), if any. */
  readonly strategy?: string;
  readonly selection: SelectionRequest;
}

/** Where a job's progress goes: the HTTP facade or the Dispatch service. Each call happens at most as documented. */
export interface JobSink {
  /** The job was sent to a node (again, after a failover). */
  onDispatched?(info: { nodeId: string; reason: string; attempt: number }): void;
  /** A chunk arrived from the node. The first call marks the job as started (no more failover). */
  onChunk(chunk: JobChunk, info: { nodeId: string; reason: string }): void;
  /** The job ended: exactly once, with an error or without. */
  onEnd(error: LbError | undefined): void;
}

/** Lifecycle of a job inside the control plane. */
export type JobState = "queued" | "dispatched" | "started" | "ended";

/** One request's life in the control plane. */
export class Job {
  state: JobState = "queued";
  nodeId: string | undefined;
  reason = "";
  attempt = 0;
  /**
   * Nodes this job was lost on or turned away by, with the node's registration time then: a node
   * that has since re-registered (a restarted agent) is a new process and may be tried again.
   */
  readonly triedNodes = new Map<string, number>();
  readonly createdAtMs: number;
  enqueuedAtMs = 0;
  dispatchedAtMs = 0;
  firstChunkAtMs = 0;
  promptTokens = 0;
  completionTokens = 0;
  cachedPromptTokens = 0;
  deadlineTimer: NodeJS.Timeout | undefined;
  /** Estimated token cost for VTC fairness: prompt + requested output. */
  readonly cost: number;

  constructor(
    readonly id: string,
    readonly spec: JobSpec,
    readonly sink: JobSink,
    now: number,
  ) {
    this.createdAtMs = now;
    this.cost = spec.selection.promptTokens + spec.selection.maxTokens;
  }

  // QueueItem view (the fair queue reads these).
  get userId(): string {
    return this.spec.userId;
  }
  get model(): string {
    return this.spec.model;
  }
}
