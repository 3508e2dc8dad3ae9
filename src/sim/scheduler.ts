// Continuous batching after vLLM v1's scheduler: one token budget per step shared by decodes and
// (chunked) prefills, FIFO admission bounded by max_num_seqs and free KV blocks, and preemption by
// recomputation when a running sequence needs a block and none is free.
import type { KvBlockPool } from "./kv-cache.js";
import type { SimStats } from "./metrics.js";
import type { StepWork } from "./step-model.js";

/** Receives a sequence's output as steps produce it. */
export interface SequenceSink {
  /**
   * One generated token; `index` counts from 0. `finish` is set on the last token, after the engine
   * has already let the sequence go. Not called after an abort.
   */
  onToken(text: string, index: number, finish: "stop" | "length" | undefined): void;
}

/** What the HTTP layer submits: the prompt's size and prefix hashes and the pre-sampled answer. */
export interface SequenceSpec {
  readonly promptTokens: number;
  readonly blockHashes: readonly number[];
  readonly outputTokens: readonly string[];
  readonly finishReason: "stop" | "length";
}

type SequenceState = "waiting" | "running" | "finished" | "aborted";

/** One request inside the engine. */
export class Sequence {
  state: SequenceState = "waiting";
  /** prompt + generated tokens: all need KV once computed. */
  numTokens: number;
  /** Tokens whose KV is computed. */
  numComputed = 0;
  outputCount = 0;
  blocks: number[] = [];
  /** Prompt tokens served from the prefix cache at first admission (usage.prompt_tokens_details). */
  cachedTokens = 0;
  admittedAt: number | undefined;
  firstTokenAt: number | undefined;
  lastTokenAt: number | undefined;
  private registered = 0;

  constructor(
    readonly id: number,
    readonly spec: SequenceSpec,
    readonly sink: SequenceSink,
    readonly arrivedAt: number,
  ) {
    this.numTokens = spec.promptTokens;
  }

  /** Publishes hashes of prompt blocks that became fully computed, so later prompts can reuse them. */
  registerComputedBlocks(pool: KvBlockPool, blockSize: number): void {
    const full = Math.min(Math.floor(this.numComputed / blockSize), this.spec.blockHashes.length);
    for (; this.registered < full; this.registered++) {
      pool.register(this.blocks[this.registered] as number, this.spec.blockHashes[this.registered] as number);
    }
  }

  /** Forgets computed state after preemption (its blocks were released). */
  resetForRecompute(): void {
    this.blocks = [];
    this.numComputed = 0;
    this.registered = 0;
  }
}

/** One scheduled sequence in a step and how many of its tokens run. */
export interface StepEntry {
  readonly seq: Sequence;
  readonly newTokens: number;
}

/** A step's schedule and the work it represents for the step-time model. */
export interface StepPlan {
  readonly entries: readonly StepEntry[];
  readonly work: StepWork;
}

/** Scheduler limits. */
export interface SchedulerOptions {
  readonly maxNumSeqs: number;
  readonly maxNumBatchedTokens: number;
  readonly blockSize: number;
}

/** Waiting and running queues over a KV block pool; plan() then commit() is one engine step. */
export class Scheduler {
  private readonly waiting: Sequence[] = [];
  private readonly running: Sequence[] = [];
  private nextId = 1;

  constructor(
    private readonly pool: KvBlockPool,
    private readonly stats: SimStats,
    private readonly opts: SchedulerOptions,
  ) {}

  /** Requests in the batch (vllm:num_requests_running). */
  get numRunning(): number {
    return this.running.length;
  }

  /** Requests queued for admission (vllm:num_requests_waiting). */
  get numWaiting(): number {
    return this.waiting.length;
  }

  /** True when a step would have something to do. */
  get hasWork(): boolean {
    return this.running.length > 0 || this.waiting.length > 0;
  }

  /** Queues a request; it is admitted at the next step that has room. */
  add(spec: SequenceSpec, sink: SequenceSink, now: number): Sequence {
    const seq = new Sequence(this.nextId++, spec, sink, now);
    this.waiting.push(seq);
    return seq;
  }

  /** Removes a sequence at once, wherever it is, and frees its KV blocks. */
  abort(seq: Sequence): boolean {
    if (seq.state === "waiting") {
      const i = this.waiting.indexOf(seq);
      if (i >= 0) this.waiting.splice(i, 1);
    } else if (seq.state === "running") {
      const i = this.running.indexOf(seq);
      if (i >= 0) this.running.splice(i, 1);
      this.pool.release(seq.blocks);
      seq.blocks = [];
    } else {
      return false;
    }
    seq.state = "aborted";
    this.stats.cancelled++;
    this.stats.finished.abort++;
    return true;
  }

  /** Aborts everything (engine shutdown); sinks are not called. */
  abortAll(): void {
    for (const seq of [...this.running, ...this.waiting]) this.abort(seq);
  }

  /** Decides the next step: running sequences first (oldest first), then FIFO admissions. */
  plan(now: number): StepPlan | undefined {
    const { blockSize } = this.opts;
    let budget = this.opts.maxNumBatchedTokens;
    const entries: StepEntry[] = [];
    let preempted = false;

    for (let i = 0; i < this.running.length && budget > 0; i++) {
      const seq = this.running[i] as Sequence;
      const newTokens = Math.min(seq.numTokens - seq.numComputed, budget);
      const needBlocks = Math.ceil((seq.numComputed + newTokens) / blockSize) - seq.blocks.length;
      let scheduled = true;
      while (needBlocks > this.pool.numFree) {
        // Preempt the newest running sequence, as vLLM does; it may be this one.
        const victim = this.running.pop() as Sequence;
        this.preempt(victim);
        preempted = true;
        if (victim === seq) {
          scheduled = false;
          break;
        }
      }
      if (!scheduled) break;
      if (needBlocks > 0) seq.blocks.push(...(this.pool.allocate(needBlocks) as number[]));
      entries.push({ seq, newTokens });
      budget -= newTokens;
    }

    // No admissions in a step that had to preempt (the running batch needs the memory), unless the
    // whole batch was preempted: then the queue head must run or the engine would sit idle.
    while (
      (!preempted || entries.length === 0) &&
      budget > 0 &&
      this.waiting.length > 0 &&
      this.running.length < this.opts.maxNumSeqs
    ) {
      const seq = this.waiting[0] as Sequence;
      const fresh = seq.admittedAt === undefined;
      // At least one prompt token must run to produce logits, so a fully cached prompt recomputes its last block.
      const cached = this.pool.lookupPrefix(
        seq.spec.blockHashes,
        Math.floor((seq.numTokens - 1) / blockSize),
      );
      // The whole sequence's blocks are reserved on admission; decode growth allocates later.
      const needBlocks = Math.ceil(seq.numTokens / blockSize) - cached.length;
      if (needBlocks > this.pool.numFree - this.pool.countFree(cached)) break;
      this.waiting.shift();
      this.pool.acquire(cached);
      seq.blocks = [...cached, ...(this.pool.allocate(needBlocks) as number[])];
      seq.numComputed = cached.length * blockSize;
      if (fresh) {
        seq.admittedAt = now;
        seq.cachedTokens = seq.numComputed;
        this.stats.prefixQueries += seq.spec.promptTokens;
        this.stats.prefixHits += seq.numComputed;
        this.stats.queueTime.observe((now - seq.arrivedAt) / 1000);
      }
      seq.state = "running";
      this.running.push(seq);
      const newTokens = Math.min(seq.numTokens - seq.numComputed, budget);
      entries.push({ seq, newTokens });
      budget -= newTokens;
    }

    if (entries.length === 0) return undefined;
    let tokens = 0;
    let kvTokensRead = 0;
    let attentionPairs = 0;
    for (const { seq, newTokens } of entries) {
      tokens += newTokens;
      kvTokensRead += seq.numComputed + newTokens;
      attentionPairs += newTokens * seq.numComputed + (newTokens * (newTokens + 1)) / 2;
    }
    return { entries, work: { tokens, kvTokensRead, attentionPairs } };
  }

  /** Applies a finished step: advances computed tokens, samples one token where a pass completes. */
  commit(plan: StepPlan, now: number): void {
    this.stats.steps++;
    const { blockSize } = this.opts;
    for (const { seq, newTokens } of plan.entries) {
      if (seq.state !== "running") continue; // aborted or preempted while the step ran
      seq.numComputed += newTokens;
      seq.registerComputedBlocks(this.pool, blockSize);
      if (seq.numComputed < seq.numTokens) continue; // mid-prefill chunk
      const index = seq.outputCount;
      const text = seq.spec.outputTokens[index] as string;
      seq.outputCount++;
      seq.numTokens++;
      this.stats.generationTokens++;
      if (seq.firstTokenAt === undefined) {
        seq.firstTokenAt = now;
        this.stats.promptTokens += seq.spec.promptTokens;
        this.stats.ttft.observe((now - seq.arrivedAt) / 1000);
      } else if (seq.lastTokenAt !== undefined) {
        this.stats.interToken.observe((now - seq.lastTokenAt) / 1000);
      }
      seq.lastTokenAt = now;
      if (seq.outputCount >= seq.spec.outputTokens.length) {
        this.finish(seq, now);
        seq.sink.onToken(text, index, seq.spec.finishReason);
      } else {
        seq.sink.onToken(text, index, undefined);
      }
    }
  }

  private finish(seq: Sequence, now: number): void {
    const i = this.running.indexOf(seq);
    if (i >= 0) this.running.splice(i, 1);
    this.pool.release(seq.blocks);
    seq.blocks = [];
    seq.state = "finished";
    this.stats.completed++;
    this.stats.finished[seq.spec.finishReason]++;
    this.stats.e2e.observe((now - seq.arrivedAt) / 1000);
    this.stats.requestPromptTokens.observe(seq.spec.promptTokens);
    this.stats.requestGenerationTokens.observe(seq.outputCount);
  }

  private preempt(seq: Sequence): void {
    this.pool.release(seq.blocks);
    seq.resetForRecompute();
    seq.state = "waiting";
    this.waiting.unshift(seq);
    this.stats.preemptions++;
  }
}
