import type { ConnectRouter } from "@connectrpc/connect";
import type { Logger } from "pino";
import { LbError } from "../errors.js";
import { ChatRole, DispatchService, NodeState } from "../gen/llmlb/v1/dispatch_pb.js";
import { type Credentials, hasScope, type Principal } from "../http/principal.js";
import type { Scheduler } from "../jobs/scheduler.js";
import type { NodeStore } from "../nodes/node-store.js";
import type { QueueSnapshot } from "../queue/index.js";
import { type CallSpecDeps, callSpec } from "./call-spec.js";
import { guardService } from "./guard.js";
import { runUnary, streamChat } from "./inference-calls.js";
import { JobRunner, type Settle } from "./job-runner.js";
import { nodeStateOf, nodeView } from "./node-view.js";
import { watchNodes } from "./node-watch.js";
import { chatBody, completionBody } from "./request-body.js";
import { authenticateCall } from "./rpc-auth.js";
import type { ServingState } from "./serving-state.js";

/** What the Dispatch service needs from the control plane: the same engine room as the OpenAI facade. */
export interface DispatchDeps extends CallSpecDeps {
  scheduler: Scheduler;
  nodes: NodeStore;
  credentials: Credentials;
  /** The fair queue, for GetQueue. */
  queue: { snapshot(): QueueSnapshot; readonly size: number };
  /** The fair queue's policy name, for GetQueue. */
  queuePolicy: string;
  logger: Logger;
  /** Figures older than this are shown as unknown. */
  staleMs: number;
  /** Ends WatchNodes streams when the control plane shuts down. */
  serving?: ServingState;
  /** Per-key admission (RPM/TPM limits), as the facade applies it; may return a settle function. */
  admit?: (p: Principal, estimatedTokens: number) => Settle | undefined;
}

/** Registers llmlb.v1.DispatchService; returns its job runner (for tests and diagnostics). */
export function registerDispatchService(router: ConnectRouter, deps: DispatchDeps): JobRunner {
  const { scheduler, nodes, strategies, credentials, staleMs } = deps;
  const runner = new JobRunner(scheduler);
  const auth = (ctx: { requestHeader: Headers }, scope: "inference" | "admin" = "inference") =>
    authenticateCall(ctx.requestHeader, credentials, scope);
  const admit = (p: Principal, spec: { selection: { promptTokens: number; maxTokens: number } }) =>
    deps.admit?.(p, spec.selection.promptTokens + spec.selection.maxTokens);

  router.service(
    DispatchService,
    guardService(
      DispatchService,
      {
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

        async cancelJob(req, ctx) {
          const caller = await auth(ctx);
          runner.cancel(req.jobId, caller);
          return { jobId: req.jobId };
        },

        async listNodes(req, ctx) {
          await auth(ctx);
          const now = Date.now();
          const list = [...nodes.all()]
            .filter(
              (n) =>
                (req.model === "" || n.models.has(req.model)) &&
                (req.state === NodeState.UNSPECIFIED || nodeStateOf(n.state) === req.state),
            )
            .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
          return { nodes: list.map((n) => nodeView(n, staleMs, now)) };
        },

        async getNode(req, ctx) {
          await auth(ctx);
          if (req.nodeId === "")
            throw new LbError("invalid_request", "node_id is required.", { param: "node_id" });
          const n = nodes.get(req.nodeId);
          if (!n) throw new LbError("not_found", `No node '${req.nodeId}'.`, { param: "node_id" });
          return { node: nodeView(n, staleMs) };
        },

        async *watchNodes(req, ctx) {
          await auth(ctx);
          yield* watchNodes(nodes, req.model, staleMs, ctx.signal, deps.serving);
        },

        async getStrategy(_req, ctx) {
          await auth(ctx);
          return { strategy: strategies.current, available: [...strategies.names] };
        },

        async setStrategy(req, ctx) {
          await auth(ctx, "admin");
          if (req.strategy === "")
            throw new LbError("invalid_request", "strategy is required.", { param: "strategy" });
          const previous = strategies.current;
          strategies.set(req.strategy);
          deps.logger.info({ strategy: strategies.current, previous }, "strategy switched via Dispatch API");
          return { strategy: strategies.current, previous };
        },

        async getQueue(_req, ctx) {
          const caller = await auth(ctx);
          const snap = deps.queue.snapshot();
          // Other users' ids and backlogs are an operator's business: non-admin keys see their own row.
          const users = hasScope(caller, "admin")
            ? snap.users
            : snap.users.filter((u) => u.userId === caller.userId);
          return {
            waiting: snap.total,
            running: Math.max(0, scheduler.activeJobs - snap.total),
            oldestWaitMs: BigInt(Math.round(snap.oldestWaitMs)),
            policy: deps.queuePolicy,
            users: users.map((u) => ({
              userId: u.userId,
              depth: u.depth,
              byModel: u.byModel,
              oldestWaitMs: BigInt(Math.round(u.oldestWaitMs)),
            })),
          };
        },
      },
      deps.logger,
    ),
  );
  return runner;
}
