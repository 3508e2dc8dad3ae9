import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { LbError } from "../errors.js";
import { CancelReason, type JobChunk, JobErrorKind, JobKind } from "../gen/llmlb/v1/node_pb.js";
import type { Metrics } from "../metrics/metrics.js";
import type { NodeRecord } from "../nodes/node-record.js";
import type { NodeStore } from "../nodes/node-store.js";
import type { FairQueue, QueueSnapshot } from "../queue/index.js";
import { Job, type JobApi, type JobSink, type JobSpec } from "./job.js";
import type { StrategyBook } from "./strategy-book.js";

/** How the scheduler talks to a connected node (implemented by the node stream). */
export interface NodeLink {
  sendJob(job: {
    jobId: string;
    userId: string;
    model: string;
    kind: JobKind;
    requestJson: Uint8Array;
    deadlineUnixMs: bigint;
    attempt: number;
    prefixHashes: bigint[];
  }): void;
  sendCancel(jobId: string, reason: CancelReason): void;
}

/** What a chunk from a node turned out to be. */
export type ChunkVerdict = "ok" | "late" | "foreign" | "unknown";

/** Scheduler options. */
export interface SchedulerOptions {
  nodes: NodeStore;
  strategies: StrategyBook;
  queue: FairQueue<Job>;
  metrics: Metrics;
  logger: Logger;
  /** Re-dispatches allowed after a node is lost before the first token. */
  maxRetries: number;
  clock?: () => number;
}

const API_TO_KIND: Record<JobApi, JobKind> = {
  chat: JobKind.CHAT_COMPLETION,
  completion: JobKind.COMPLETION,
  embedding: JobKind.EMBEDDING,
};
// Remember this many recently ended jobs so chunks racing a cancel are dropped quietly.
const RECENT_ENDED = 4096;
// A cancelled job keeps its slot until the node confirms the abort; this long at most.
const CANCEL_HOLD_MS = 5_000;
const encoder = new TextEncoder();

/**
 * The engine room shared by the OpenAI facade and the Dispatch API: admission, node selection,
 * the fair queue, dispatch down node streams, chunk routing, cancellation, deadlines and failover.
 */
export class Scheduler {
  private readonly jobs = new Map<string, Job>();
  /** Jobs in flight per node, for failover when the node goes away. */
  private readonly byNode = new Map<string, Set<Job>>();
  private readonly links = new Map<string, NodeLink>();
  private readonly recentEnded = new Map<string, string>();
  /**
   * Cancelled jobs still running on their node until it confirms the abort. Their slot stays
   * taken meanwhile: the agent counts the job until its engine request is aborted, so a new job
   * sent into the freed slot at once would be turned away as "node is full".
   */
  private readonly cancelling = new Map<string, { nodeId: string; timer: NodeJS.Timeout }>();
  private readonly clock: () => number;
  private pumping = false;
  private closed = false;

  constructor(private readonly o: SchedulerOptions) {
    this.clock = o.clock ?? Date.now;
  }

  /** Jobs queued or running. */
  get activeJobs(): number {
    return this.jobs.size;
  }

  /** What waits in the fair queue, per user and model (admin API, Dispatch GetQueue); O(queued). */
  queueSnapshot(): QueueSnapshot {
    return this.o.queue.snapshot();
  }

  /** A node stream is ready for jobs. */
  attach(nodeId: string, link: NodeLink): void {
    this.links.set(nodeId, link);
    this.pump();
  }

  /**
   * Admits a request: dispatches it at once when a node has a free slot, else queues it fairly.
   * Throws LbError for requests that cannot be admitted (unknown model, no node, queue full).
   */
  submit(spec: JobSpec, sink: JobSink): Job {
    if (this.closed)
      throw new LbError("shutting_down", "The control plane is shutting down.", { retryAfterSeconds: 1 });
    const { nodes } = this.o;
    if (!nodes.known(spec.model)) {
      throw new LbError("model_not_found", `The model '${spec.model}' does not exist or no node serves it.`, {
        param: "model",
      });
    }
    if (!this.anyOnline(spec.model)) {
      throw new LbError("no_node_available", `No node is online for model '${spec.model}'. Retry shortly.`, {
        retryAfterSeconds: 2,
      });
    }
    const strategy = this.o.strategies.resolve(spec.strategy);
    const job = new Job(randomUUID(), spec, sink, this.clock());
    this.jobs.set(job.id, job);
    const delay = spec.deadlineAtMs - this.clock();
    job.deadlineTimer = setTimeout(() => this.expire(job), Math.max(0, delay));
    // Queue first when others are already waiting, so newcomers cannot jump the fair queue.
    let dispatched: boolean;
    try {
      dispatched = this.o.queue.size === 0 && this.tryDispatch(job, strategy.name);
    } catch (err) {
      // Never leave a job registered (with a live deadline timer) that its caller was told failed.
      this.forget(job);
      throw err;
    }
    if (dispatched) {
      this.o.queue.dispatchedDirectly(job);
      return job;
    }
    const admitted = this.o.queue.push(job);
    if (!admitted.ok) {
      this.forget(job);
      throw new LbError(
        admitted.reason,
        admitted.reason === "user_queue_full"
          ? "Too many of your requests are waiting; retry later."
          : "The request queue is full; retry later.",
        { retryAfterSeconds: 1 },
      );
    }
    job.enqueuedAtMs = this.clock();
    this.o.metrics.queueDepth.set(this.o.queue.size);
    // A slot may be free while the jobs ahead wait for other nodes: let the queue decide now.
    this.pump();
    return job;
  }

  /** Cancels a job: removes it from the queue, or aborts it on its node. */
  cancel(jobId: string, reason: "client_gone" | "deadline" | "shutdown" | "api"): boolean {
    const job = this.jobs.get(jobId);
    if (!job || job.state === "ended") return false;
    this.o.metrics.cancellations.inc({ reason });
    if (job.state === "queued") {
      this.o.queue.remove(job.id);
      this.o.metrics.queueDepth.set(this.o.queue.size);
    } else if (job.nodeId) {
      const wire =
        reason === "deadline"
          ? CancelReason.DEADLINE
          : reason === "shutdown"
            ? CancelReason.SHUTDOWN
            : CancelReason.CLIENT_GONE;
      const link = this.links.get(job.nodeId);
      if (link) {
        link.sendCancel(job.id, wire);
        this.holdSlot(job.id, job.nodeId);
      }
    }
    const err =
      reason === "deadline"
        ? new LbError("deadline_exceeded", "The request ran past its deadline.")
        : reason === "shutdown"
          ? new LbError("shutting_down", "The control plane is shutting down.")
          : new LbError("cancelled", "The request was cancelled.");
    this.end(job, err, false);
    return true;
  }

  /** Routes a chunk from a node to its job. */
  handleChunk(nodeId: string, chunk: JobChunk): ChunkVerdict {
    const job = this.jobs.get(chunk.jobId);
    if (chunk.done && !job) this.freeHeldSlot(chunk.jobId, nodeId);
    if (!job || job.nodeId !== nodeId) {
      if (this.recentEnded.get(chunk.jobId) === nodeId) return "late";
      return job || this.recentEnded.has(chunk.jobId) ? "foreign" : "unknown";
    }
    if (chunk.error && chunk.error.kind !== JobErrorKind.UNSPECIFIED) {
      this.handleJobError(job, chunk);
      return "ok";
    }
    if (job.state === "dispatched") {
      job.state = "started";
      job.firstChunkAtMs = this.clock();
      this.o.metrics.ttft.observe({ model: job.spec.model }, (job.firstChunkAtMs - job.createdAtMs) / 1000);
    }
    if (chunk.usage) {
      job.promptTokens = chunk.usage.promptTokens;
      job.completionTokens = chunk.usage.completionTokens;
      job.cachedPromptTokens = chunk.usage.cachedPromptTokens;
    }
    job.sink.onChunk(chunk, { nodeId, reason: job.reason });
    if (chunk.done) this.end(job, undefined, true);
    return "ok";
  }

  /** A node's stream broke, it missed heartbeats, or it is draining with jobs it will not run. */
  nodeLost(nodeId: string): void {
    this.links.delete(nodeId);
    for (const [jobId, held] of this.cancelling) {
      if (held.nodeId === nodeId) this.freeHeldSlot(jobId, nodeId, false);
    }
    const jobs = this.byNode.get(nodeId);
    if (!jobs) return;
    this.byNode.delete(nodeId);
    const node = this.o.nodes.get(nodeId);
    for (const job of [...jobs]) {
      if (node) node.inFlight = Math.max(0, node.inFlight - 1);
      if (job.state === "dispatched") {
        this.requeueOrFail(job, `node ${nodeId} was lost before the first token`);
      } else if (job.state === "started") {
        this.end(
          job,
          new LbError("node_lost", `The node serving this request (${nodeId}) was lost mid-stream.`),
          false,
        );
      }
    }
    this.pump();
  }

  /** Stops admitting, fails queued jobs and cancels running ones. */
  shutdown(): void {
    this.closed = true;
    for (const job of [...this.jobs.values()]) this.cancel(job.id, "shutdown");
    for (const held of this.cancelling.values()) clearTimeout(held.timer);
    this.cancelling.clear();
  }

  /** Tries to place queued jobs; called whenever capacity may have appeared. */
  pump(): void {
    if (this.pumping || this.o.queue.size === 0) return;
    this.pumping = true;
    try {
      const canServe = (model: string) => this.hasFreeSlot(model);
      // Jobs no free node will take (every free one already failed them, or the strategy declined):
      // set aside so they do not block the jobs behind them, then put back at the head in order.
      const setAside: Job[] = [];
      try {
        for (;;) {
          const job = this.o.queue.pop(canServe);
          if (!job) break;
          if (this.tryDispatch(job, job.spec.strategy)) {
            this.o.metrics.queueWait.observe((this.clock() - job.enqueuedAtMs) / 1000);
          } else setAside.push(job);
        }
      } finally {
        for (let i = setAside.length - 1; i >= 0; i--) this.o.queue.pushFront(setAside[i] as Job);
      }
    } finally {
      this.pumping = false;
      this.o.metrics.queueDepth.set(this.o.queue.size);
    }
  }

  private anyOnline(model: string): boolean {
    for (const n of this.o.nodes.serving(model)) if (n.schedulable && this.links.has(n.id)) return true;
    return false;
  }

  private hasFreeSlot(model: string): boolean {
    for (const n of this.o.nodes.serving(model)) if (this.usable(n)) return true;
    return false;
  }

  private usable(n: NodeRecord): boolean {
    return n.schedulable && n.inFlight < n.maxConcurrency && this.links.has(n.id);
  }

  private tryDispatch(job: Job, strategyName: string | undefined): boolean {
    const candidates: NodeRecord[] = [];
    for (const n of this.o.nodes.serving(job.spec.model)) {
      if (this.usable(n) && job.triedNodes.get(n.id) !== n.registeredAtMs) candidates.push(n);
    }
    if (candidates.length === 0) return false;
    const strategy = this.o.strategies.resolve(strategyName);
    const t0 = process.hrtime.bigint();
    const choice = strategy.select(job.spec.selection, candidates);
    this.o.metrics.selectionDuration.observe(
      { strategy: strategy.name },
      Number(process.hrtime.bigint() - t0) / 1e9,
    );
    if (!choice) return false;
    const node = this.o.nodes.get(choice.node.id);
    const link = node && this.links.get(node.id);
    if (!node || !link) return false;
    job.state = "dispatched";
    job.nodeId = node.id;
    job.reason = choice.reason;
    job.attempt++;
    job.triedNodes.set(node.id, node.registeredAtMs);
    job.dispatchedAtMs = this.clock();
    node.inFlight++;
    node.totalRequests++;
    node.lastDispatchedMs = job.dispatchedAtMs;
    node.recordReason(choice.reason);
    let set = this.byNode.get(node.id);
    if (!set) {
      set = new Set();
      this.byNode.set(node.id, set);
    }
    set.add(job);
    this.o.metrics.selections.inc({ node_id: node.id, reason: choice.reason });
    this.o.strategies.onDispatch(job.spec.selection, node.id);
    job.sink.onDispatched?.({ nodeId: node.id, reason: choice.reason, attempt: job.attempt });
    link.sendJob({
      jobId: job.id,
      userId: job.spec.userId,
      model: job.spec.model,
      kind: API_TO_KIND[job.spec.api],
      requestJson: encoder.encode(JSON.stringify(job.spec.body)),
      deadlineUnixMs: BigInt(job.spec.deadlineAtMs),
      attempt: job.attempt,
      prefixHashes: job.spec.selection.prefixHashes as bigint[],
    });
    return true;
  }

  private handleJobError(job: Job, chunk: JobChunk): void {
    const e = chunk.error;
    if (!e) return;
    const retryable = e.kind === JobErrorKind.ENGINE_UNAVAILABLE || e.kind === JobErrorKind.REJECTED;
    if (job.state === "dispatched" && retryable) {
      // A rejection means busy (full, draining), not broken: the node may take the job later.
      if (e.kind === JobErrorKind.REJECTED && job.nodeId) job.triedNodes.delete(job.nodeId);
      this.release(job, false);
      this.requeueOrFail(job, `node ${job.nodeId} could not run it: ${e.message}`);
      this.pump();
      return;
    }
    if (e.kind === JobErrorKind.BAD_REQUEST) {
      const status = e.httpStatus >= 400 && e.httpStatus < 500 ? e.httpStatus : 400;
      this.end(
        job,
        new LbError("invalid_request", e.message || "The engine rejected the request.", { status }),
        true,
      );
    } else if (e.kind === JobErrorKind.CANCELLED) {
      this.end(job, new LbError("cancelled", "The job was cancelled on the node."), true);
    } else {
      this.end(job, new LbError("engine_error", e.message || "The engine failed."), true);
    }
  }

  private requeueOrFail(job: Job, why: string): void {
    if (job.attempt > this.o.maxRetries) {
      this.end(job, new LbError("engine_error", `Gave up after ${job.attempt} attempts: ${why}.`), false);
      return;
    }
    this.o.logger.warn(
      { jobId: job.id, userId: job.spec.userId, attempt: job.attempt },
      `re-queueing job: ${why}`,
    );
    this.o.metrics.retries.inc();
    job.state = "queued";
    job.nodeId = undefined;
    job.enqueuedAtMs = this.clock();
    this.o.queue.pushFront(job);
    this.o.metrics.queueDepth.set(this.o.queue.size);
  }

  /** Keeps a cancelled job's slot taken until its node confirms the abort (or CANCEL_HOLD_MS). */
  private holdSlot(jobId: string, nodeId: string): void {
    const node = this.o.nodes.get(nodeId);
    if (!node) return;
    // end() releases the job's slot; this extra count is what stays taken.
    node.inFlight++;
    const timer = setTimeout(() => this.freeHeldSlot(jobId, nodeId), CANCEL_HOLD_MS);
    timer.unref();
    this.cancelling.set(jobId, { nodeId, timer });
  }

  private freeHeldSlot(jobId: string, nodeId: string, pump = true): void {
    const held = this.cancelling.get(jobId);
    if (!held || held.nodeId !== nodeId) return;
    clearTimeout(held.timer);
    this.cancelling.delete(jobId);
    const node = this.o.nodes.get(nodeId);
    if (node) node.inFlight = Math.max(0, node.inFlight - 1);
    if (pump) this.pump();
  }

  private expire(job: Job): void {
    job.deadlineTimer = undefined;
    this.cancel(job.id, "deadline");
  }

  /** Frees the job's slot on its node and reports the outcome to the strategies. */
  private release(job: Job, ok: boolean): void {
    const nodeId = job.nodeId;
    if (!nodeId) return;
    const set = this.byNode.get(nodeId);
    if (!set?.delete(job)) return;
    const node = this.o.nodes.get(nodeId);
    const now = this.clock();
    if (node) {
      node.inFlight = Math.max(0, node.inFlight - 1);
      node.recordResponse(now - job.dispatchedAtMs, ok);
    }
    this.o.strategies.onOutcome({
      nodeId,
      model: job.spec.model,
      ok,
      promptTokens: job.promptTokens || job.spec.selection.promptTokens,
      completionTokens: job.completionTokens,
      cachedPromptTokens: job.cachedPromptTokens,
      ...(job.firstChunkAtMs ? { ttftMs: job.firstChunkAtMs - job.dispatchedAtMs } : {}),
      durationMs: now - job.dispatchedAtMs,
    });
    this.recentEnded.set(job.id, nodeId);
    if (this.recentEnded.size > RECENT_ENDED) {
      const oldest = this.recentEnded.keys().next().value;
      if (oldest !== undefined) this.recentEnded.delete(oldest);
    }
  }

  private end(job: Job, err: LbError | undefined, fromNode: boolean): void {
    if (job.state === "ended") return;
    // A node-reported end frees the slot with a real outcome; other ends free it as failed.
    this.release(job, fromNode && err === undefined);
    job.state = "ended";
    this.forget(job);
    const m = this.o.metrics;
    const labels = { api: job.spec.api, model: job.spec.model };
    m.requests.inc({ ...labels, status: err ? err.code : "ok" });
    m.requestDuration.observe(labels, (this.clock() - job.createdAtMs) / 1000);
    if (job.promptTokens) m.tokens.inc({ kind: "prompt", model: job.spec.model }, job.promptTokens);
    if (job.completionTokens)
      m.tokens.inc({ kind: "completion", model: job.spec.model }, job.completionTokens);
    // VTC: settle what the job really cost (the queue charged its estimate at dispatch).
    if (job.attempt > 0) {
      this.o.queue.charge(
        job.spec.userId,
        (job.promptTokens || job.spec.selection.promptTokens) + job.completionTokens,
      );
    }
    try {
      job.sink.onEnd(err);
    } catch (e) {
      this.o.logger.error({ err: e, jobId: job.id }, "job sink failed");
    }
    this.pump();
  }

  private forget(job: Job): void {
    if (job.deadlineTimer) clearTimeout(job.deadlineTimer);
    job.deadlineTimer = undefined;
    this.jobs.delete(job.id);
  }
}
