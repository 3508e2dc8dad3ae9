import type { ConnectRouter } from "@connectrpc/connect";
import type { Logger } from "pino";
import { LbError } from "../errors.js";
import { DispatchService, NodeState } from "../gen/llmlb/v1/dispatch_pb.js";
import { hasScope } from "../http/principal.js";
import type { Scheduler } from "../jobs/scheduler.js";
import type { NodeStore } from "../nodes/node-store.js";
import type { QueueSnapshot } from "../queue/index.js";
import { guardService } from "./guard.js";
import type { InferenceDeps, InferenceHandlers } from "./inference-handlers.js";
import type { JobRunner } from "./job-runner.js";
import { nodeStateOf, nodeView } from "./node-view.js";
import { watchNodes } from "./node-watch.js";
import { authenticateCall } from "./rpc-auth.js";
import type { ServingState } from "./serving-state.js";

/** What the Dispatch service needs from the control plane: the same engine room as the OpenAI facade. */
export interface DispatchDeps extends InferenceDeps {
  scheduler: Scheduler;
  nodes: NodeStore;
  /** The shared job runner, and the inference methods on it (also served by the gRPC fast path). */
  runner: JobRunner;
  inference: InferenceHandlers;
  /** The fair queue, for GetQueue. */
  queue: { snapshot(): QueueSnapshot; readonly size: number };
  /** The fair queue's policy name, for GetQueue. */
  queuePolicy: string;
  logger: Logger;
  /** Figures older than this are shown as unknown. */
  staleMs: number;
  /** Ends WatchNodes streams when the control plane shuts down. */
  serving?: ServingState;
}

/** Registers llmlb.v1.DispatchService on Connect (every protocol and method). */
export function registerDispatchService(router: ConnectRouter, deps: DispatchDeps): void {
  const { scheduler, nodes, strategies, credentials, staleMs, runner, inference } = deps;
  const auth = (ctx: { requestHeader: Headers }, scope: "inference" | "admin" = "inference") =>
    authenticateCall(ctx.requestHeader, credentials, scope);

  router.service(
    DispatchService,
    guardService(
      DispatchService,
      {
        createChatCompletion: (req, ctx) => inference.createChatCompletion(req, ctx),
        streamChatCompletion: (req, ctx) => inference.streamChatCompletion(req, ctx),
        createCompletion: (req, ctx) => inference.createCompletion(req, ctx),

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
}
