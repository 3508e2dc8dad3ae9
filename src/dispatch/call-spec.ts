import { LbError } from "../errors.js";
import { hasScope, type Principal } from "../http/principal.js";
import type { JobApi, JobSpec } from "../jobs/job.js";
import { buildJobSpec } from "../jobs/job-spec.js";
import type { StrategyBook } from "../jobs/strategy-book.js";

// A fair-queue user id chosen by a trusted caller: printable, bounded, no spaces (it labels logs and metrics).
const USER_ID_RE = /^[A-Za-z0-9._:@+-]{1,128}$/;

/** The per-call options every inference request carries. */
export interface CallOptions {
  readonly timeoutMs?: number | undefined;
  readonly onBehalfOfUser: string;
  readonly strategy: string;
}

/** What turning a call into a job needs from the control plane. */
export interface CallSpecDeps {
  readonly strategies: StrategyBook;
  readonly defaultTimeoutMs: number;
  readonly maxTimeoutMs: number;
}

/**
 * The fair-queue user of a call: the key's owner, or `on_behalf_of_user` for admin keys. Only
 * admin keys may name another user, or any caller could take any user's queue share.
 */
export function queueUserOf(principal: Principal, onBehalfOfUser: string): string {
  if (onBehalfOfUser === "") return principal.userId;
  if (!hasScope(principal, "admin")) {
    throw new LbError("insufficient_scope", "on_behalf_of_user needs a key with the 'admin' scope.");
  }
  if (!USER_ID_RE.test(onBehalfOfUser)) {
    throw new LbError(
      "invalid_request",
      "on_behalf_of_user must be 1-128 characters of letters, digits and ._:@+-",
      {
        param: "on_behalf_of_user",
      },
    );
  }
  return onBehalfOfUser;
}

/**
 * Builds the job spec for a call. The deadline is `timeout_ms` (or the server default), cut short
 * by the call's own gRPC deadline: the scheduler then fails the job at the moment the client stops
 * waiting, and the node is told to stop.
 */
export function callSpec(
  api: JobApi,
  body: Record<string, unknown>,
  opts: CallOptions,
  principal: Principal,
  callTimeoutMs: number | undefined,
  deps: CallSpecDeps,
): JobSpec {
  const userId = queueUserOf(principal, opts.onBehalfOfUser);
  let timeoutMs = deps.defaultTimeoutMs;
  if (opts.timeoutMs !== undefined) {
    if (opts.timeoutMs < 1 || opts.timeoutMs > deps.maxTimeoutMs) {
      throw new LbError("invalid_request", `timeout_ms must be between 1 and ${deps.maxTimeoutMs}.`, {
        param: "timeout_ms",
      });
    }
    timeoutMs = opts.timeoutMs;
  }
  if (callTimeoutMs !== undefined) timeoutMs = Math.max(1, Math.min(timeoutMs, callTimeoutMs));
  const strategy = opts.strategy === "" ? undefined : opts.strategy;
  if (strategy !== undefined) deps.strategies.resolve(strategy);
  return buildJobSpec({ api, body, userId, timeoutMs, strategy });
}
