import { LbError } from "../errors.js";
import { hasScope, type Principal } from "../http/principal.js";
import type { Job, JobSink, JobSpec } from "../jobs/job.js";
import type { Scheduler } from "../jobs/scheduler.js";
import { isDeadline } from "./rpc-errors.js";

// Ids as the OpenAI facade shows them ("chatcmpl-" + the job's UUID without dashes), so an admin can
// cancel a facade request by the id its client saw.
const FACADE_ID_RE =
  /^(?:chatcmpl|cmpl|embd)-([0-9a-f]{8})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{12})$/;

/** Called once when a job ends, with the tokens it used (for per-key TPM limits). */
export type Settle = (actualTokens: number) => void;

/**
 * Runs Dispatch calls as jobs on the shared scheduler (the same queue, selection and failover as the
 * OpenAI facade), ties each job to its call's abort signal, and remembers who started it for CancelJob.
 */
export class JobRunner {
  /** Running Dispatch jobs → the user who started them (the caller, not the on-behalf-of user). */
  private readonly owners = new Map<string, string>();

  constructor(private readonly scheduler: Scheduler) {}

  /** Dispatch jobs queued or running, so tests can prove nothing is left behind. */
  get size(): number {
    return this.owners.size;
  }

  /**
   * Submits a job; throws LbError when it is not admitted. When the call's signal aborts (client
   * cancel, or its gRPC deadline), the job is cancelled: taken out of the queue or stopped on its node.
   */
  start(spec: JobSpec, owner: Principal, signal: AbortSignal, sink: JobSink, settle?: Settle): Job {
    if (signal.aborted) throw new LbError("cancelled", "The call was cancelled before its job started.");
    const onAbort = () => {
      this.scheduler.cancel(job.id, isDeadline(signal.reason) ? "deadline" : "client_gone");
    };
    // A job that ends inside submit() (its node failed at once) reports after submit returns, so the
    // sink always sees the job it was given.
    let submitted = false;
    let endedEarly: (() => void) | undefined;
    let job: Job;
    try {
      job = this.scheduler.submit(spec, {
        onDispatched: (info) => sink.onDispatched?.(info),
        onChunk: (chunk, info) => sink.onChunk(chunk, info),
        onEnd: (err) => {
          const finish = () => {
            signal.removeEventListener("abort", onAbort);
            this.owners.delete(job.id);
            settle?.((job.promptTokens || job.spec.selection.promptTokens) + job.completionTokens);
            sink.onEnd(err);
          };
          if (submitted) finish();
          else endedEarly = finish;
        },
      });
    } catch (err) {
      settle?.(0);
      throw err;
    }
    submitted = true;
    if (endedEarly) {
      queueMicrotask(endedEarly);
    } else {
      this.owners.set(job.id, owner.userId);
      signal.addEventListener("abort", onAbort, { once: true });
    }
    return job;
  }

  /** Stops a job whose call ended early (a no-op once the job has ended). */
  abandon(jobId: string): void {
    if (this.owners.has(jobId)) this.scheduler.cancel(jobId, "client_gone");
  }

  /**
   * CancelJob: the caller may cancel its own Dispatch jobs; admin keys may cancel any job, the
   * OpenAI facade's included. Jobs of other users answer NOT_FOUND, so ids do not leak.
   */
  cancel(jobId: string, caller: Principal): void {
    if (jobId === "") throw new LbError("invalid_request", "job_id is required.", { param: "job_id" });
    const m = FACADE_ID_RE.exec(jobId);
    const id = m ? m.slice(1).join("-") : jobId;
    const owner = this.owners.get(id);
    const admin = hasScope(caller, "admin");
    const allowed = admin || (owner !== undefined && owner === caller.userId);
    if (!allowed || !this.scheduler.cancel(id, "api")) {
      throw new LbError("not_found", `No queued or running job '${jobId}' that this key may cancel.`, {
        param: "job_id",
      });
    }
  }
}
