// The simulator's HTTP surface on node:http (no framework: the overhead benchmark measures through it).
import { randomBytes } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer } from "node:http";
import { performance } from "node:perf_hooks";
import { BusyMeter } from "./busy-meter.js";
import type { SimEngine } from "./engine.js";
import { FaultControl } from "./faults.js";
import type { SimGpuJson } from "./gpu-state.js";
import { readSimGpu, simGpuUuid } from "./gpu-state.js";
import { readJson, SSE_HEADERS, sendJson, sendText } from "./http-io.js";
import type { SimStats } from "./metrics.js";
import { renderMetrics } from "./metrics.js";
import type { GpuProfile, ModelProfile } from "./profiles.js";
import type { GenerationRequest, ParseContext } from "./requests.js";
import {
  errorBody,
  parseChatRequest,
  parseCompletionRequest,
  parseEmbeddingRequest,
  SimHttpError,
} from "./requests.js";
import type { ResponseIdentity, UsageCounts } from "./responses.js";
import {
  completionBody,
  embeddingsBody,
  modelsBody,
  SSE_DONE,
  tokenEvents,
  usageEvent,
} from "./responses.js";
import type { Sequence } from "./scheduler.js";
import type { Capacity } from "./step-model.js";
import { STEP_MODEL } from "./step-model.js";
import type { PromptInput } from "./text.js";
import { countPromptTokens, embed, hash53, promptBlockHashes, sampleOutput } from "./text.js";

/** The engine version /version reports: the vLLM API the simulator imitates, marked as simulated. */
export const SIM_VERSION = "0.11.0-sim";

/** The fixed answer of instant mode. */
const INSTANT_TOKENS = ["This", " is", " a", " simulated", " response", "."];

/** The subset of a pino logger the simulator uses. */
export interface SimLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Everything the HTTP layer serves from. */
export interface SimServerContext {
  readonly gpu: GpuProfile;
  readonly model: ModelProfile;
  readonly capacity: Capacity;
  readonly seed: number;
  readonly timeScale: number;
  readonly maxNumSeqs: number;
  readonly maxNumBatchedTokens: number;
  /** Undefined in instant mode: no step loop at all. */
  readonly engine: SimEngine | undefined;
  readonly stats: SimStats;
  readonly logger: SimLogger | undefined;
}

/** A created (not yet listening) simulator server and its shutdown. */
export interface SimServer {
  readonly server: Server;
  /** Stops the engine, closes the listener and every open connection. */
  close(): Promise<void>;
}

function promptKey(prompt: PromptInput): string {
  return "ids" in prompt ? prompt.ids.join(",") : prompt.text;
}

/** Builds the node:http server of one simulated engine (call listen() on `server`). */
export function createSimServer(ctx: SimServerContext): SimServer {
  const faults = new FaultControl(ctx.stats);
  const parse: ParseContext = { servedModel: ctx.model.key, maxModelLen: ctx.capacity.maxModelLen };
  const startedAt = Math.floor(Date.now() / 1000);
  let uuid: string | undefined;
  // Instant mode has no step loop, so its GPU reads idle: a meter nothing records into.
  const idleMeter = new BusyMeter(performance.now());
  let closing: Promise<void> | undefined;

  const server = createServer({ noDelay: true, keepAliveTimeout: 30_000 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof SimHttpError) {
        if (!res.headersSent) sendJson(res, err.status, errorBody(err.status, err.message, err.param));
        return;
      }
      ctx.logger?.error({ err }, "sim request failed");
      if (!res.headersSent) sendJson(res, 500, errorBody(500, "Internal server error."));
      else res.destroy();
    });
  });
  // Streams can outlive Node's default 300 s request timeout.
  server.requestTimeout = 0;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method ?? "GET";
    const allow = (expected: string): boolean => {
      if (method === expected) return true;
      sendJson(res, 405, { detail: "Method Not Allowed" });
      return false;
    };
    switch (path) {
      case "/v1/chat/completions":
        if (allow("POST")) await generate(req, res, "chat");
        return;
      case "/v1/completions":
        if (allow("POST")) await generate(req, res, "completion");
        return;
      case "/v1/embeddings":
        if (allow("POST")) await embeddings(req, res);
        return;
      case "/v1/models":
        if (allow("GET")) {
          sendJson(res, 200, modelsBody(ctx.model.key, ctx.model.hfId, startedAt, ctx.capacity.maxModelLen));
        }
        return;
      case "/health":
        if (allow("GET")) {
          res.writeHead(faults.healthy ? 200 : 503, { "content-length": 0 });
          res.end();
        }
        return;
      case "/version":
        if (allow("GET")) sendJson(res, 200, { version: SIM_VERSION });
        return;
      case "/metrics":
        if (allow("GET")) {
          const text = renderMetrics(
            ctx.stats,
            {
              running: ctx.engine?.running ?? 0,
              waiting: ctx.engine?.waiting ?? 0,
              kvCacheUsage: ctx.engine?.pool.usage ?? 0,
              numGpuBlocks: ctx.capacity.kvBlocks,
              blockSize: STEP_MODEL.blockSize,
              gpuMemoryUtilization: ctx.capacity.gpuMemoryUtilization,
            },
            ctx.model.key,
          );
          sendText(res, 200, "text/plain; version=0.0.4; charset=utf-8", text);
        }
        return;
      case "/sim/gpu":
        if (allow("GET")) sendJson(res, 200, { gpus: [gpuJson()] });
        return;
      case "/sim/state":
        if (allow("GET")) sendJson(res, 200, stateJson());
        return;
      case "/sim/control":
        if (method === "GET") sendJson(res, 200, faults.toJson());
        else if (allow("POST")) {
          faults.apply(await readJson(req));
          sendJson(res, 200, faults.toJson());
        }
        return;
      default:
        sendJson(res, 404, { detail: "Not Found" });
    }
  }

  function gpuJson(): SimGpuJson {
    if (uuid === undefined) {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      uuid = simGpuUuid(ctx.seed, port, ctx.gpu.key);
    }
    return readSimGpu(ctx.gpu, ctx.capacity, ctx.engine?.busy ?? idleMeter, uuid, performance.now());
  }

  function stateJson(): object {
    const s = ctx.stats;
    return {
      running: ctx.engine?.running ?? 0,
      waiting: ctx.engine?.waiting ?? 0,
      stalled: faults.stalled,
      kv_cache_usage: ctx.engine?.pool.usage ?? 0,
      kv_blocks_total: ctx.capacity.kvBlocks,
      kv_blocks_free: ctx.engine?.pool.numFree ?? ctx.capacity.kvBlocks,
      kv_tokens_total: ctx.capacity.kvTokens,
      completed: s.completed,
      cancelled: s.cancelled,
      failed: s.failed,
      preemptions: s.preemptions,
      steps: s.steps,
      prompt_tokens: s.promptTokens,
      generation_tokens: s.generationTokens,
      prefix_cache_queries: s.prefixQueries,
      prefix_cache_hits: s.prefixHits,
      max_num_seqs: ctx.maxNumSeqs,
      max_num_batched_tokens: ctx.maxNumBatchedTokens,
      max_model_len: ctx.capacity.maxModelLen,
      time_scale: ctx.timeScale,
      instant: ctx.engine === undefined,
      gpu: ctx.gpu.key,
      model: ctx.model.key,
      ...faults.toJson(),
    };
  }

  function identity(kind: "chat" | "completion" | "embd"): ResponseIdentity {
    const prefix = kind === "chat" ? "chatcmpl" : kind === "completion" ? "cmpl" : "embd";
    return {
      id: `${prefix}-${randomBytes(16).toString("hex")}`,
      created: Math.floor(Date.now() / 1000),
      model: ctx.model.key,
    };
  }

  async function generate(
    req: IncomingMessage,
    res: ServerResponse,
    kind: "chat" | "completion",
  ): Promise<void> {
    const body = await readJson(req);
    const parsed = kind === "chat" ? parseChatRequest(body, parse) : parseCompletionRequest(body, parse);
    if (!(await faults.admit(res))) return;
    const ident = identity(kind);
    if (ctx.engine === undefined) {
      answerInstantly(res, parsed, ident);
      return;
    }
    const engine = ctx.engine;
    // Same seed + same prompt (+ same request seed) → same answer, whatever else runs beside it.
    const sampleSeed = hash53(`${parsed.seed ?? ""}|${promptKey(parsed.prompt)}`, ctx.seed);
    const out = sampleOutput(sampleSeed, parsed.maxTokens, parsed.ignoreEos);
    let done = false;
    let seq: Sequence | undefined;
    const usage = (completionTokens: number): UsageCounts => ({
      promptTokens: parsed.promptTokens,
      completionTokens,
      cachedTokens: seq?.cachedTokens ?? 0,
    });
    const texts: string[] = [];
    if (parsed.stream) {
      res.writeHead(200, SSE_HEADERS);
      res.flushHeaders();
    }
    seq = engine.submit(
      {
        promptTokens: parsed.promptTokens,
        blockHashes: promptBlockHashes(parsed.prompt, STEP_MODEL.blockSize),
        outputTokens: out.tokens,
        finishReason: out.finishReason,
      },
      {
        onToken(text, index, finish) {
          if (finish !== undefined) done = true;
          if (res.destroyed) return; // the close handler aborts (or already has)
          if (parsed.stream) {
            const events = tokenEvents(parsed, ident, text, index, finish ?? null);
            if (finish === undefined) res.write(events);
            else
              res.end(
                events + (parsed.includeUsage ? usageEvent(parsed, ident, usage(index + 1)) : "") + SSE_DONE,
              );
          } else {
            texts.push(text);
            if (finish !== undefined)
              sendJson(res, 200, completionBody(parsed, ident, texts.join(""), finish, usage(index + 1)));
          }
        },
      },
    );
    const submitted = seq;
    // The client went away (streamed or not): leave the batch and free the KV blocks at once.
    res.on("close", () => {
      if (!done) engine.abort(submitted);
    });
  }

  function answerInstantly(res: ServerResponse, parsed: GenerationRequest, ident: ResponseIdentity): void {
    const n = parsed.ignoreEos ? parsed.maxTokens : Math.min(INSTANT_TOKENS.length, parsed.maxTokens);
    const finish = parsed.ignoreEos || parsed.maxTokens < INSTANT_TOKENS.length ? "length" : "stop";
    const tokens: string[] = [];
    for (let i = 0; i < n; i++) tokens.push(INSTANT_TOKENS[i % INSTANT_TOKENS.length] as string);
    const usage: UsageCounts = { promptTokens: parsed.promptTokens, completionTokens: n, cachedTokens: 0 };
    const s = ctx.stats;
    s.completed++;
    s.finished[finish]++;
    s.promptTokens += parsed.promptTokens;
    s.generationTokens += n;
    if (!parsed.stream) {
      sendJson(res, 200, completionBody(parsed, ident, tokens.join(""), finish, usage));
      return;
    }
    // One write for the whole stream: instant mode exists to make the engine's cost negligible.
    let text = "";
    for (let i = 0; i < n; i++)
      text += tokenEvents(parsed, ident, tokens[i] as string, i, i === n - 1 ? finish : null);
    if (parsed.includeUsage) text += usageEvent(parsed, ident, usage);
    res.writeHead(200, SSE_HEADERS);
    res.end(text + SSE_DONE);
  }

  async function embeddings(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parsed = parseEmbeddingRequest(await readJson(req), parse);
    if (!(await faults.admit(res))) return;
    let promptTokens = 0;
    const vectors = parsed.inputs.map((p) => {
      promptTokens += countPromptTokens(p);
      return embed(promptKey(p), ctx.seed, parsed.dims);
    });
    ctx.stats.promptTokens += promptTokens;
    ctx.stats.completed++;
    sendJson(res, 200, embeddingsBody(vectors, parsed.base64, identity("embd"), promptTokens));
  }

  async function close(): Promise<void> {
    closing ??= new Promise<void>((resolve) => {
      ctx.engine?.close();
      server.close(() => resolve());
      // Streams, stalled requests and idle keep-alive sockets alike: nothing may keep close() waiting.
      server.closeAllConnections();
    });
    return closing;
  }

  return { server, close };
}
