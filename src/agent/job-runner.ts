import type { IncomingMessage } from "node:http";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Job, type JobChunkSchema, JobErrorKind, JobKind } from "../gen/llmlb/v1/node_pb.js";
import { engineRequest, readBody } from "./engines/engine-client.js";
import type { EngineAdapter } from "./engines/types.js";
import { SseParser } from "./sse-reader.js";

/** A chunk ready to send up the stream. */
export type ChunkInit = MessageInitShape<typeof JobChunkSchema>;

const decoder = new TextDecoder();
// Engine error bodies are relayed to the client; cap them so a runaway engine cannot flood the stream.
const MAX_ERROR_BODY = 2048;
// A whole (non-streamed) engine body: an embedding batch or an error page; far bigger is a fault.
const MAX_ENGINE_BODY = 64 * 1024 * 1024;

// Engine URLs by job kind, built once per adapter rather than parsed per job.
const urlCache = new WeakMap<EngineAdapter, Map<string, URL>>();
function engineUrl(engine: EngineAdapter, kind: "chat" | "completion" | "embedding"): URL {
  let byKind = urlCache.get(engine);
  if (!byKind) {
    byKind = new Map();
    urlCache.set(engine, byKind);
  }
  let url = byKind.get(kind);
  if (!url) {
    url = new URL(engine.endpointFor(kind), engine.baseUrl);
    byKind.set(kind, url);
  }
  return url;
}

interface EngineChunk {
  choices?: {
    index?: number;
    delta?: { content?: string | null; role?: string };
    text?: string;
    finish_reason?: string | null;
  }[];
  usage?: {
    prompt_tokens?: number;
    completion_tokens?: number;
    prompt_tokens_details?: { cached_tokens?: number } | null;
  } | null;
  error?: { message?: string };
}

/**
 * Runs one job against the engine's OpenAI-compatible API and reports it as chunks: always streamed
 * from the engine (so cancellation and first-token timing work), whatever the client asked for.
 */
export async function runJob(
  job: Job,
  engine: EngineAdapter,
  send: (chunk: ChunkInit) => void,
  signal: AbortSignal,
  apiKey: string,
): Promise<void> {
  let index = 0;
  const emit = (c: Omit<ChunkInit, "jobId" | "index">) =>
    send({ ...c, jobId: job.jobId, index: index++ } as ChunkInit);
  const fail = (kind: JobErrorKind, message: string, httpStatus = 0) =>
    emit({ error: { kind, message, httpStatus }, done: true });

  let body: Record<string, unknown>;
  try {
    body = JSON.parse(decoder.decode(job.requestJson)) as Record<string, unknown>;
  } catch {
    return fail(JobErrorKind.BAD_REQUEST, "request_json is not valid JSON", 400);
  }
  body.model = job.model;
  const kind =
    job.kind === JobKind.CHAT_COMPLETION
      ? "chat"
      : job.kind === JobKind.COMPLETION
        ? "completion"
        : "embedding";
  if (kind !== "embedding") {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;

  let res: IncomingMessage;
  try {
    res = await engineRequest(engineUrl(engine, kind), {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (signal.aborted) return fail(JobErrorKind.CANCELLED, "cancelled");
    return fail(JobErrorKind.ENGINE_UNAVAILABLE, `engine unreachable: ${(err as Error).message}`);
  }
  const status = res.statusCode ?? 0;
  if (status >= 400) {
    const text = await readBody(res, MAX_ENGINE_BODY).then(
      (b) => b.toString("utf8", 0, MAX_ERROR_BODY),
      () => "",
    );
    const message = engineErrorMessage(text) ?? `engine answered HTTP ${status}`;
    // 4xx is the request's fault and is not retried elsewhere; 429 and 5xx are the engine's state.
    const retryable = status >= 500 || status === 429 || status === 408;
    return fail(retryable ? JobErrorKind.ENGINE_UNAVAILABLE : JobErrorKind.BAD_REQUEST, message, status);
  }

  if (kind === "embedding") {
    try {
      const bytes = new Uint8Array(await readBody(res, MAX_ENGINE_BODY));
      const parsed = JSON.parse(decoder.decode(bytes)) as EngineChunk;
      const u = parsed.usage;
      return emit({
        bodyJson: bytes,
        usage: { promptTokens: u?.prompt_tokens ?? 0, completionTokens: 0, cachedPromptTokens: 0 },
        done: true,
      });
    } catch (err) {
      if (signal.aborted) return fail(JobErrorKind.CANCELLED, "cancelled");
      return fail(JobErrorKind.ENGINE_UNAVAILABLE, `bad engine response: ${(err as Error).message}`);
    }
  }

  let started = false;
  // Set once [DONE] is seen: the job has been reported whole, the rest of the body is only drained.
  let finished = false;
  let usage: ChunkInit["usage"];
  const parser = new SseParser();
  try {
    // One chunk per network read, not per token: an engine that sends many events in one read (or a
    // fast one under load) costs one message on the node stream instead of one per token.
    await eachBodyChunk(res, (bytes) => {
      if (finished) return;
      let text = "";
      let finish = "";
      let choiceIndex = 0;
      let sawDone = false;
      for (const data of parser.push(bytes)) {
        // [DONE] ends the job but not the body: abandoning it would close the keep-alive
        // connection, and a new TCP connection per job costs more than a whole job on a fast engine.
        if (data === "[DONE]") {
          sawDone = true;
          break;
        }
        let c: EngineChunk;
        try {
          c = JSON.parse(data) as EngineChunk;
        } catch {
          continue; // keep-alive or a malformed event: skip it rather than kill the job
        }
        if (c.error) throw new Error(c.error.message ?? "engine stream error");
        if (c.usage) {
          usage = {
            promptTokens: c.usage.prompt_tokens ?? 0,
            completionTokens: c.usage.completion_tokens ?? 0,
            cachedPromptTokens: c.usage.prompt_tokens_details?.cached_tokens ?? 0,
          };
        }
        const choice = c.choices?.[0];
        if (!choice) continue;
        text += (kind === "chat" ? choice.delta?.content : choice.text) ?? "";
        if (choice.finish_reason) finish = choice.finish_reason;
        choiceIndex = choice.index ?? 0;
      }
      if (sawDone) {
        // The last text, the usage and the end in one message: the body's own end comes a
        // macrotask or more later, and a separate end message cost a second write on both sides.
        finished = true;
        emit({ textDelta: text, finishReason: finish, choiceIndex, done: true, ...(usage ? { usage } : {}) });
        return;
      }
      if (!text && !finish) return;
      started = true;
      emit({ textDelta: text, finishReason: finish, choiceIndex });
    });
  } catch (err) {
    if (finished) return; // reported whole already; a broken connection after [DONE] changes nothing
    if (signal.aborted) return fail(JobErrorKind.CANCELLED, "cancelled");
    const message = `engine stream failed: ${(err as Error).message}`;
    return fail(started ? JobErrorKind.STREAM_BROKEN : JobErrorKind.ENGINE_UNAVAILABLE, message);
  }
  if (finished) return;
  if (signal.aborted) return fail(JobErrorKind.CANCELLED, "cancelled");
  emit({ done: true, ...(usage ? { usage } : {}) });
}

/**
 * Calls `onBytes` with each piece of a response body as it arrives, and settles when the body
 * ends: rejects with the body's error (a reset connection, the job's abort) or with what
 * `onBytes` threw (the body is then destroyed). Events rather than `for await`: the async
 * iterator costs a promise and a few stream calls per read, and a streamed job is one read per
 * token, so it was a large share of the agent's CPU per token.
 */
function eachBodyChunk(res: IncomingMessage, onBytes: (bytes: Buffer) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (err?: unknown) => {
      res.off("data", onData);
      res.off("end", onEnd);
      res.off("error", settle);
      res.off("close", onClose);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onData = (bytes: Buffer) => {
      try {
        onBytes(bytes);
      } catch (err) {
        settle(err);
        res.destroy();
      }
    };
    const onEnd = () => settle();
    // A body cut short without an error event (the socket closed under it).
    const onClose = () => {
      if (!res.complete) settle(new Error("the engine closed the connection mid-body"));
    };
    res.on("data", onData);
    res.once("end", onEnd);
    res.once("error", settle);
    res.once("close", onClose);
  });
}

function engineErrorMessage(text: string): string | undefined {
  try {
    const j = JSON.parse(text) as {
      error?: { message?: string } | string;
      message?: string;
      detail?: string;
    };
    if (typeof j.error === "string") return j.error;
    return j.error?.message ?? j.message ?? j.detail;
  } catch {
    return text.trim() || undefined;
  }
}
