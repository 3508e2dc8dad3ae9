// The simulator's HTTP surface on node:http (no framework: the overhead benchmark measures through it).
import { randomBytes } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer } from "node:http";
import { performance } from "node:perf_hooks";
import { BusyMeter } from "./busy-meter.js";
import type { SimEngine } from "./engine.js";
import type { SimGpuJson } from "./gpu-state.js";
import { readSimGpu, simGpuUuid } from "./gpu-state.js";
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

/** Largest request body accepted; larger ones get 413. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** The fixed answer of instant mode. */
const INSTANT_TOKENS = ["This", " is", " a", " simulated", " response", "."];

/** The subset of a pino logger the simulator uses. */
export interface SimLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Fault-injection switches, set with POST /sim/control. */
export interface SimControl {
  healthy: boolean;
  failNext: number;
  failStatus: number;
  stall: boolean;
}

/** Everything the HTTP layer serves from. */
export interface SimServerContext {
  readonly gpu: GpuProfile;
  readonly model: ModelProfile;
  readonly capacity: Capacity;
  readonly seed: number;
  readonly timeScale: number;
  readonly maxNumSeqs: number;
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

const JSON_HEADERS = { "content-type": "application/json" };
const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" };

function sendJson(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...JSON_HEADERS, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new SimHttpError(413, `Request body is larger than ${MAX_BODY_BYTES} bytes.`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("error", reject);
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(new SimHttpError(400, `JSON decode error: ${(err as Error).message}`));
      }
    });
  });
}

function promptKey(prompt: PromptInput): string {
  return "ids" in prompt ? prompt.ids.join(",") : prompt.text;
}

/** Builds the node:http server of one simulated engine (call listen() on `server`). */
export function createSimServer(ctx: SimServerContext): SimServer {
  const control: SimControl = { healthy: true, failNext: 0, failStatus: 500, stall: false };
  const parked: (() => void)[] = [];
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
          res.writeHead(control.healthy ? 200 : 503, { "content-length": 0 });
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
          res.writeHead(200, {
            "content-type": "text/plain; version=0.0.4; charset=utf-8",
            "content-length": Buffer.byteLength(text),
          });
          res.end(text);
        }
        return;
      case "/sim/gpu":
        if (allow("GET")) sendJson(res, 200, { gpus: [gpuJson()] });
        return;
      case "/sim/state":
        if (allow("GET")) sendJson(res, 200, stateJson());
        return;
      case "/sim/control":
        if (method === "GET") sendJson(res, 200, controlJson());
        else if (allow("POST")) {
          applyControl(await readJson(req));
          sendJson(res, 200, controlJson());
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
      stalled: parked.length,
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
      max_model_len: ctx.capacity.maxModelLen,
      time_scale: ctx.timeScale,
      instant: ctx.engine === undefined,
      gpu: ctx.gpu.key,
      model: ctx.model.key,
      ...controlJson(),
    };
  }

  function controlJson(): object {
    return {
      healthy: control.healthy,
      fail_next: control.failNext,
      fail_status: control.failStatus,
      stall: control.stall,
    };
  }

  function applyControl(raw: unknown): void {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      throw new SimHttpError(400, "Request body must be a JSON object.");
    }
    const body = raw as Record<string, unknown>;
    for (const key of Object.keys(body)) {
      if (!["healthy", "fail_next", "fail_status", "stall"].includes(key)) {
        throw new SimHttpError(400, `Unknown control field \`${key}\`.`, key);
      }
    }
    const { healthy, fail_next: failNext, fail_status: failStatus, stall } = body;
    if (healthy !== undefined && typeof healthy !== "boolean")
      throw new SimHttpError(400, "`healthy` must be a boolean.");
    if (stall !== undefined && typeof stall !== "boolean")
      throw new SimHttpError(400, "`stall` must be a boolean.");
    if (failNext !== undefined && !(Number.isInteger(failNext) && (failNext as number) >= 0)) {
      throw new SimHttpError(400, "`fail_next` must be an integer >= 0.");
    }
    if (
      failStatus !== undefined &&
      !(Number.isInteger(failStatus) && (failStatus as number) >= 400 && (failStatus as number) <= 599)
    ) {
      throw new SimHttpError(400, "`fail_status` must be an HTTP error status (400-599).");
    }
    if (healthy !== undefined) control.healthy = healthy;
    if (failNext !== undefined) control.failNext = failNext as number;
    if (failStatus !== undefined) control.failStatus = failStatus as number;
    if (stall !== undefined) {
      control.stall = stall;
      if (!stall) for (const release of parked.splice(0)) release();
    }
  }

  /** Applies fail_next and stall; false when the request must not go on (answered, or client gone). */
  async function admit(res: ServerResponse): Promise<boolean> {
    if (control.failNext > 0) {
      control.failNext--;
      ctx.stats.failed++;
      throw new SimHttpError(
        control.failStatus,
        `Injected failure (sim fail_next, status ${control.failStatus}).`,
      );
    }
    if (!control.stall) return true;
    // Stalled: hold the request with no bytes sent until unstalled or the client gives up.
    return new Promise<boolean>((resolve) => {
      const release = (): void => {
        res.off("close", onClose);
        resolve(true);
      };
      const onClose = (): void => {
        const i = parked.indexOf(release);
        if (i >= 0) parked.splice(i, 1);
        ctx.stats.cancelled++;
        resolve(false);
      };
      res.on("close", onClose);
      parked.push(release);
    });
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
    if (!(await admit(res))) return;
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
    if (!(await admit(res))) return;
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
