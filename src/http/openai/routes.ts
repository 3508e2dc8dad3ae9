import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { LbError } from "../../errors.js";
import type { JobApi, JobSpec } from "../../jobs/job.js";
import { buildJobSpec } from "../../jobs/job-spec.js";
import type { Scheduler } from "../../jobs/scheduler.js";
import type { StrategyBook } from "../../jobs/strategy-book.js";
import type { NodeStore } from "../../nodes/node-store.js";
import { principalOf, requireScope } from "../guard.js";
import { authenticate, type Credentials, type Principal } from "../principal.js";
import { event, ResponseAccumulator, SseFormatter } from "./responses.js";
import { chatCompletionSchema, completionSchema, embeddingSchema } from "./schemas.js";

/** What the facade needs from the control plane. */
export interface OpenAIRouteDeps {
  scheduler: Scheduler;
  nodes: NodeStore;
  strategies: StrategyBook;
  credentials: Credentials;
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
  /**
   * Extra admission check per key (RPM/TPM limits); throws LbError when over. It may return a
   * function to call once with the tokens the request really used (0 when it never ran).
   */
  admit?: (p: Principal, estimatedTokens: number) => ((actualTokens: number) => void) | undefined;
}

/** Registers /v1/chat/completions, /v1/completions, /v1/embeddings and /v1/models. */
export function registerOpenAIRoutes(app: FastifyInstance, deps: OpenAIRouteDeps): void {
  const post = (url: string, api: JobApi, schema: object) =>
    // Authenticate before the body is parsed or validated: anonymous callers get 401, not a schema error.
    app.post(
      url,
      {
        onRequest: requireScope(deps.credentials, "inference"),
        schema: { body: schema },
        // No per-request child logger on the hot path (pino's child() with redaction is ~15 µs);
        // these handlers do not log, and the error handler names the request id itself.
        childLoggerFactory: (logger) => logger,
      },
      async (req, reply) => {
        const principal = principalOf(req);
        const spec = buildSpec(req, api, principal, deps);
        const settle = deps.admit?.(principal, spec.selection.promptTokens + spec.selection.maxTokens);
        const body = req.body as {
          stream?: boolean | null;
          stream_options?: { include_usage?: boolean } | null;
        };
        try {
          if (api !== "embedding" && body.stream) {
            return await streamJob(
              req,
              reply,
              api,
              spec,
              deps,
              body.stream_options?.include_usage === true,
              settle,
            );
          }
          return await unaryJob(req, reply, api, spec, deps, settle);
        } catch (err) {
          settle?.(0);
          throw err;
        }
      },
    );
  post("/v1/chat/completions", "chat", chatCompletionSchema);
  post("/v1/completions", "completion", completionSchema);
  post("/v1/embeddings", "embedding", embeddingSchema);

  app.get("/v1/models", async (req) => {
    await authenticate(req, deps.credentials, "inference");
    return { object: "list", data: listModels(deps.nodes) };
  });
  app.get<{ Params: { "*": string } }>("/v1/models/*", async (req) => {
    await authenticate(req, deps.credentials, "inference");
    // Model ids may contain slashes ("meta-llama/Llama-3.1-8B"), hence the wildcard.
    const id = req.params["*"];
    const found = listModels(deps.nodes).find((m) => m.id === id);
    if (!found)
      throw new LbError("model_not_found", `The model '${id}' does not exist or no node serves it.`, {
        param: "model",
      });
    return found;
  });
}

function listModels(nodes: NodeStore): { id: string; object: "model"; created: number; owned_by: string }[] {
  const seen = new Map<string, { id: string; object: "model"; created: number; owned_by: string }>();
  for (const n of nodes.all()) {
    if (n.state !== "online" && n.state !== "draining") continue;
    for (const id of n.modelIds) {
      if (!seen.has(id))
        seen.set(id, {
          id,
          object: "model",
          created: Math.floor(n.registeredAtMs / 1000),
          owned_by: "llmlb",
        });
    }
  }
  return [...seen.values()].sort((a, b) => a.id.localeCompare(b.id));
}

function headerString(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
}

/** Turns a validated request into a job spec: deadline, strategy override, token and prefix estimates. */
function buildSpec(req: FastifyRequest, api: JobApi, principal: Principal, deps: OpenAIRouteDeps): JobSpec {
  const body = req.body as Record<string, unknown>;
  const strategy = headerString(req, "x-llmlb-strategy");
  if (strategy !== undefined) deps.strategies.resolve(strategy);
  let timeoutMs = deps.defaultTimeoutMs;
  const timeoutHeader = headerString(req, "x-llmlb-timeout-ms");
  if (timeoutHeader !== undefined) {
    const n = Number(timeoutHeader);
    if (!Number.isInteger(n) || n < 1 || n > deps.maxTimeoutMs) {
      throw new LbError(
        "invalid_request",
        `x-llmlb-timeout-ms must be an integer between 1 and ${deps.maxTimeoutMs}.`,
        {
          param: "x-llmlb-timeout-ms",
        },
      );
    }
    timeoutMs = n;
  }
  return buildJobSpec({ api, body, userId: principal.userId, timeoutMs, strategy });
}

function routeHeaders(reply: FastifyReply, info: { nodeId: string; reason: string }): void {
  reply.header("x-llmlb-node", info.nodeId);
  reply.header("x-llmlb-route-reason", info.reason);
}

/** Runs a job and answers with one JSON body. */
function unaryJob(
  _req: FastifyRequest,
  reply: FastifyReply,
  api: JobApi,
  spec: JobSpec,
  deps: OpenAIRouteDeps,
  settle?: (actualTokens: number) => void,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let acc: ResponseAccumulator | undefined;
    let last: { nodeId: string; reason: string } | undefined;
    let jobId: string | undefined;
    // The client went away before the answer: abort the job on its node. Declared before submit()
    // because onEnd may run before submit() returns (e.g. at shutdown).
    const onClose = () => {
      if (jobId && !reply.raw.writableFinished) deps.scheduler.cancel(jobId, "client_gone");
    };
    const job = deps.scheduler.submit(spec, {
      onDispatched: (info) => {
        last = info;
      },
      onChunk: (chunk, info) => {
        acc ??= new ResponseAccumulator(
          api,
          responseId(api, job.id),
          spec.model,
          Math.floor(Date.now() / 1000),
        );
        acc.add(chunk);
        last = info;
      },
      onEnd: (err) => {
        settle?.(usedTokens(job));
        reply.raw.off("close", onClose);
        if (last) routeHeaders(reply, last);
        if (err) reject(err);
        else
          resolve(
            (
              acc ??
              new ResponseAccumulator(api, responseId(api, job.id), spec.model, Math.floor(Date.now() / 1000))
            ).result(),
          );
      },
    });
    jobId = job.id;
    reply.raw.on("close", onClose);
  });
}

/** Runs a job and streams it as SSE; errors before the first token are ordinary HTTP errors. */
function streamJob(
  req: FastifyRequest,
  reply: FastifyReply,
  api: Exclude<JobApi, "embedding">,
  spec: JobSpec,
  deps: OpenAIRouteDeps,
  includeUsage: boolean,
  settle?: (actualTokens: number) => void,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let fmt: SseFormatter | undefined;
    let last: { nodeId: string; reason: string } | undefined;
    const raw = reply.raw;
    let jobId: string | undefined;
    const onClose = () => {
      if (jobId && !raw.writableFinished) deps.scheduler.cancel(jobId, "client_gone");
    };
    const start = (info: { nodeId: string; reason: string }) => {
      fmt = new SseFormatter(
        api,
        responseId(api, job.id),
        spec.model,
        Math.floor(Date.now() / 1000),
        includeUsage,
      );
      reply.hijack();
      raw.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        connection: "keep-alive",
        "x-request-id": String(req.id),
        "x-llmlb-node": info.nodeId,
        "x-llmlb-route-reason": info.reason,
      });
      resolve(undefined);
    };
    const job = deps.scheduler.submit(spec, {
      onDispatched: (info) => {
        last = info;
      },
      onChunk: (chunk, info) => {
        if (!fmt) start(info);
        const text = fmt?.format(chunk);
        if (text) raw.write(text);
      },
      onEnd: (err) => {
        settle?.(usedTokens(job));
        raw.off("close", onClose);
        if (!fmt) {
          if (last) routeHeaders(reply, last);
          if (err) return reject(err);
          // A job that ended with no chunk at all still gets a well-formed empty stream.
          start(last ?? { nodeId: "", reason: "" });
        }
        if (err) {
          // After the first token the status is sent: end with an error event the SDKs understand.
          raw.end(event(err.toOpenAI()));
        } else raw.end(fmt?.end());
      },
    });
    jobId = job.id;
    raw.on("close", onClose);
  });
}

/** Tokens a finished job used, for TPM accounting; the prompt estimate when the engine sent no usage. */
function usedTokens(job: { promptTokens: number; completionTokens: number; spec: JobSpec }): number {
  return (job.promptTokens || job.spec.selection.promptTokens) + job.completionTokens;
}

function responseId(api: JobApi, jobId: string): string {
  const prefix = api === "chat" ? "chatcmpl-" : api === "completion" ? "cmpl-" : "embd-";
  return prefix + jobId.replace(/-/g, "");
}
