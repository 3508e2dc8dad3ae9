// The step loop: plan a step, sleep its modelled duration (divided by the time scale), commit it.
import { performance } from "node:perf_hooks";
import { BusyMeter } from "./busy-meter.js";
import { KvBlockPool } from "./kv-cache.js";
import { SimStats } from "./metrics.js";
import type { GpuProfile, ModelProfile } from "./profiles.js";
import type { Sequence, SequenceSink, SequenceSpec, StepPlan } from "./scheduler.js";
import { Scheduler } from "./scheduler.js";
import type { Capacity } from "./step-model.js";
import { STEP_MODEL, stepTime } from "./step-model.js";

/** Behind schedule by more than this (event loop was blocked), the loop stops trying to catch up. */
const MAX_LAG_MS = 50;

/** What the engine needs to know. */
export interface EngineOptions {
  readonly gpu: GpuProfile;
  readonly model: ModelProfile;
  readonly capacity: Capacity;
  readonly maxNumSeqs: number;
  readonly maxNumBatchedTokens: number;
  readonly timeScale: number;
}

/** A simulated vLLM engine core: KV pool, scheduler, and a timer-driven step loop. */
export class SimEngine {
  /** Cumulative counters and histograms. */
  readonly stats = new SimStats();
  /** Recent busy time of the simulated GPU. */
  readonly busy: BusyMeter;
  readonly pool: KvBlockPool;
  private readonly scheduler: Scheduler;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private pending: StepPlan | undefined;
  private stepStartedAt = 0;
  private stepComputeShare = 0;
  /** Wall-clock anchor and simulated seconds since it: step k is due at anchor + sim / timeScale. */
  private anchor = 0;
  private simSeconds = 0;
  private closed = false;

  constructor(private readonly opts: EngineOptions) {
    this.busy = new BusyMeter(performance.now());
    this.pool = new KvBlockPool(opts.capacity.kvBlocks);
    this.scheduler = new Scheduler(this.pool, this.stats, {
      maxNumSeqs: opts.maxNumSeqs,
      maxNumBatchedTokens: opts.maxNumBatchedTokens,
      blockSize: STEP_MODEL.blockSize,
    });
  }

  /** Requests in the batch. */
  get running(): number {
    return this.scheduler.numRunning;
  }

  /** Requests waiting for admission. */
  get waiting(): number {
    return this.scheduler.numWaiting;
  }

  /** Queues a request and makes sure the loop runs. */
  submit(spec: SequenceSpec, sink: SequenceSink): Sequence {
    const seq = this.scheduler.add(spec, sink, performance.now());
    this.wake();
    return seq;
  }

  /** Drops a request at once (client went away); its KV blocks are free before this returns. */
  abort(seq: Sequence): void {
    this.scheduler.abort(seq);
  }

  /** Stops the loop, drops every sequence and leaves no timer behind. */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    this.pending = undefined;
    this.scheduler.abortAll();
  }

  private wake(): void {
    // Deferred by one turn so requests arriving together join the same first step.
    if (this.closed || this.pending !== undefined || this.immediate !== undefined) return;
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      this.startStep();
    });
  }

  private startStep(): void {
    if (this.closed || this.pending !== undefined) return;
    const now = performance.now();
    const plan = this.scheduler.plan(now);
    if (plan === undefined) {
      this.simSeconds = 0; // idle until the next submit
      return;
    }
    const t = stepTime(this.opts.gpu, this.opts.model, plan.work);
    if (this.simSeconds === 0 || now - this.dueAt() > MAX_LAG_MS) {
      // Starting from idle, or hopelessly late: restart the clock from now.
      this.anchor = now;
      this.simSeconds = 0;
    }
    this.simSeconds += t.seconds;
    this.pending = plan;
    this.stepStartedAt = now;
    this.stepComputeShare = t.computeSeconds >= t.memorySeconds ? 1 : t.computeSeconds / t.memorySeconds;
    const delay = this.dueAt() - now;
    if (delay >= 1) {
      this.timer = setTimeout(() => this.endStep(), delay);
    } else {
      // Sub-millisecond steps (high time scales) run back to back; setImmediate lets I/O in between.
      this.immediate = setImmediate(() => this.endStep());
    }
  }

  private endStep(): void {
    this.timer = undefined;
    this.immediate = undefined;
    const plan = this.pending;
    this.pending = undefined;
    if (this.closed || plan === undefined) return;
    const now = performance.now();
    this.busy.record(this.stepStartedAt, now, this.stepComputeShare);
    this.scheduler.commit(plan, now);
    if (this.scheduler.hasWork) {
      this.startStep();
    } else {
      this.simSeconds = 0;
    }
  }

  private dueAt(): number {
    return this.anchor + (this.simSeconds * 1000) / this.opts.timeScale;
  }
}
