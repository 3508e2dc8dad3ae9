import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { AddressInfo } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import Fastify, { type FastifyInstance, LogController } from "fastify";
import type { Logger } from "pino";
import type { ServerConfig } from "../config/server-config.js";
import { registerDashboard } from "../dashboard/index.js";
import { registerDispatchService } from "../dispatch/dispatch-service.js";
import { createGrpcFastPath } from "../dispatch/grpc-fast-path.js";
import { registerHealthService } from "../dispatch/health-service.js";
import { createInferenceHandlers } from "../dispatch/inference-handlers.js";
import { JobRunner } from "../dispatch/job-runner.js";
import { registerReflectionService } from "../dispatch/reflection-service.js";
import { ServingState } from "../dispatch/serving-state.js";
import { toLbError } from "../errors.js";
import { DispatchService } from "../gen/llmlb/v1/dispatch_pb.js";
import { NodeService } from "../gen/llmlb/v1/node_pb.js";
import { registerAdminRoutes } from "../http/admin/index.js";
import { installErrorHandling, sendError } from "../http/error-handler.js";
import { registerLoadbalancerCompatRoutes } from "../http/loadbalancer-compat/index.js";
import { registerOpenAIRoutes } from "../http/openai/routes.js";
import { authenticate, type Credentials } from "../http/principal.js";
import type { Job } from "../jobs/job.js";
import { DEFAULT_PREFIX_BLOCK_CHARS } from "../jobs/prompt.js";
import { Scheduler } from "../jobs/scheduler.js";
import { StrategyBook } from "../jobs/strategy-book.js";
import { createMetrics, type Metrics } from "../metrics/metrics.js";
import { NodeStore } from "../nodes/node-store.js";
import { createFairQueue, type QueuePolicyName } from "../queue/index.js";
import { createNodeConnectHandler, registerNodeService } from "../stream/node-service.js";
import type { NodeSession } from "../stream/node-session.js";
import type { Auth } from "./auth-setup.js";
import { createKeyLimits } from "./key-limits.js";
import { createTlsServer, DualProtocolServer, type RequestHandler } from "./listen.js";

/** Everything the control plane is made of; tests and the CLI reach in through this. */
export interface ControlPlane {
  readonly app: FastifyInstance;
  readonly config: ServerConfig;
  readonly nodes: NodeStore;
  readonly scheduler: Scheduler;
  readonly strategies: StrategyBook;
  readonly metrics: Metrics;
  readonly sessions: Map<string, NodeSession>;
  /** Starts listening; resolves with the bound URL. */
  listen(): Promise<{ url: string; port: number }>;
  /** Stops: refuses new work, cancels jobs, ends node streams, closes the port. */
  close(): Promise<void>;
}

/** Options beside the config: the logger and how credentials are checked. */
export interface ControlPlaneOptions {
  logger: Logger;
  credentials: Credentials;
  /** The stored auth stack; when given, revoking a node token closes that node's stream at once. */
  auth?: Auth;
  /** Runs last in close() (e.g. closing the SQLite store). */
  onClose?: () => void;
}

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

/** Builds the control plane (no listen), like fastify's build(). */
export async function createControlPlane(
  config: ServerConfig,
  opts: ControlPlaneOptions,
): Promise<ControlPlane> {
  const { logger, credentials } = opts;
  const nodes = new NodeStore({
    staleMs: config.staleSecs * 1000,
    offlineGraceMs: config.offlineGraceSecs * 1000,
  });
  const metrics = createMetrics(nodes);
  const strategies = new StrategyBook(config.strategy, {
    gpuThreshold: config.gpuThreshold,
    vramThreshold: config.vramThreshold,
    activeRequestThreshold: config.activeRequestThreshold,
    // Prefix hashes cover fixed character blocks; the selector reasons in tokens (≈ 4 characters each).
    prefixBlockTokens: DEFAULT_PREFIX_BLOCK_CHARS / 4,
    observe: (stage: string, plugin: string, seconds: number) =>
      metrics.pluginDuration.observe({ stage, plugin }, seconds),
  });
  const queue = createFairQueue<Job>({
    policy: config.queuePolicy as QueuePolicyName,
    maxPerUser: config.queueMaxPerUser,
    maxTotal: config.queueMaxTotal,
  });
  const scheduler = new Scheduler({
    nodes,
    strategies,
    queue,
    metrics,
    logger,
    maxRetries: config.maxRetries,
  });
  nodes.subscribe((e) => {
    if (e.type === "removed") {
      strategies.onNodeRemoved(e.node.id);
      void metrics.forgetNode(e.node.id);
    }
  });
  const sessions = new Map<string, NodeSession>();
  let shuttingDown = false;
  // Flipped first in close(): gRPC health turns NOT_SERVING and watch streams end cleanly.
  const serving = new ServingState();
  const unsubscribeRevocations = opts.auth?.nodeTokens.onNodeTokenRevoked((token) => {
    for (const s of [...sessions.values()]) {
      if (s.tokenId === token.id)
        s.close(new ConnectError("node token revoked", Code.Unauthenticated), "node token revoked");
    }
  });

  // One job runner and one set of inference handlers behind both Dispatch doors: Connect (every
  // protocol and method) and the gRPC fast path for the hot RPCs, which sees HTTP/2 requests first.
  const keyLimits = createKeyLimits();
  const dispatchRunner = new JobRunner(scheduler);
  const inferenceDeps = {
    strategies,
    credentials,
    defaultTimeoutMs: config.requestTimeoutSecs * 1000,
    maxTimeoutMs: config.maxRequestTimeoutSecs * 1000,
    admit: keyLimits.admit,
  };
  const inference = createInferenceHandlers(dispatchRunner, inferenceDeps);
  const nodeConnect = createNodeConnectHandler({
    nodes,
    scheduler,
    metrics,
    logger,
    heartbeatMs: Math.round(config.heartbeatSecs * 1000),
    maxMessageBytes: config.bodyLimitBytes,
    sessions,
    verifyNodeToken: (t) => credentials.nodeToken(t),
  });
  const dispatch = DispatchService.method;
  const grpcFastPath = createGrpcFastPath(
    [
      { desc: dispatch.createChatCompletion, impl: inference.createChatCompletion },
      { desc: dispatch.createCompletion, impl: inference.createCompletion },
      { desc: dispatch.streamChatCompletion, impl: inference.streamChatCompletion },
      { desc: NodeService.method.connect, impl: nodeConnect },
    ],
    { readMaxBytes: config.bodyLimitBytes, logger },
  );
  const claimStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) =>
    grpcFastPath.handle(stream, headers);

  const tls = config.tlsCert
    ? { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) }
    : undefined;
  const app = Fastify({
    loggerInstance: logger,
    // Per-request logs cost on the hot path and add nothing the metrics lack; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    // Node ids may be 128 characters (find-my-way's default of 100 would answer 414 for some).
    routerOptions: { maxParamLength: 256 },
    // Malformed URLs and over-long path parameters get the same OpenAI-shaped 400 as every other error.
    frameworkErrors: (err, _req, reply) => sendError(reply, toLbError(err)),
    genReqId: (req) => {
      const incoming = req.headers["x-request-id"];
      return typeof incoming === "string" && REQUEST_ID_RE.test(incoming) ? incoming : randomUUID();
    },
    ajv: { customOptions: { coerceTypes: false, allErrors: false } },
    serverFactory: (handler) =>
      (tls
        ? createTlsServer(handler as RequestHandler, tls.cert, tls.key, claimStream)
        : new DualProtocolServer(handler as RequestHandler, claimStream)) as never,
  }) as unknown as FastifyInstance;
  installErrorHandling(app);
  app.addHook("onRequest", async (req, reply) => {
    reply.header("x-request-id", String(req.id));
  });

  await app.register(fastifyConnectPlugin, {
    readMaxBytes: config.bodyLimitBytes,
    routes: (router) => {
      registerNodeService(router, nodeConnect);
      registerDispatchService(router, {
        ...inferenceDeps,
        scheduler,
        nodes,
        queue,
        queuePolicy: config.queuePolicy,
        logger,
        staleMs: config.staleSecs * 1000,
        serving,
        runner: dispatchRunner,
        inference,
      });
      registerHealthService(router, serving);
      registerReflectionService(router);
    },
  });

  registerOpenAIRoutes(app, {
    scheduler,
    nodes,
    strategies,
    credentials,
    admit: keyLimits.admit,
    defaultTimeoutMs: config.requestTimeoutSecs * 1000,
    maxTimeoutMs: config.maxRequestTimeoutSecs * 1000,
  });

  registerAdminRoutes(app, { credentials, nodes, scheduler, sessions, auth: opts.auth });
  registerLoadbalancerCompatRoutes(app, { credentials, nodes, strategies });
  registerDashboard(app, {
    credentials,
    nodes,
    metrics,
    strategies,
    queueSnapshot: () => scheduler.queueSnapshot(),
    username: (id) => opts.auth?.users.getUser(id)?.username,
  });

  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    let online = 0;
    for (const n of nodes.all()) if (n.state === "online") online++;
    if (shuttingDown) return reply.code(503).send({ status: "shutting_down", nodes_online: online });
    return { status: "ready", nodes_online: online };
  });
  app.get("/metrics", async (req, reply) => {
    // Off by default so the seed's `curl /metrics` works; any valid key when required.
    if (config.metricsRequireKey) await authenticate(req, credentials, "inference");
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  const cp: ControlPlane = {
    app,
    config,
    nodes,
    scheduler,
    strategies,
    metrics,
    sessions,
    async listen() {
      await app.listen({ port: config.port, host: config.host });
      const addr = app.server.address() as AddressInfo;
      const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
      return {
        url: `${tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${addr.port}`,
        port: addr.port,
      };
    },
    async close() {
      if (shuttingDown) return;
      shuttingDown = true;
      serving.shutdown();
      scheduler.shutdown();
      for (const s of [...sessions.values()]) s.close(undefined, "control plane shutting down");
      nodes.close();
      unsubscribeRevocations?.();
      await app.close();
      opts.onClose?.();
    },
  };
  return cp;
}
