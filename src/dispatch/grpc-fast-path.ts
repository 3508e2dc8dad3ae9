import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import {
  create,
  type DescMessage,
  type DescMethod,
  fromBinary,
  type MessageInitShape,
  toBinary,
} from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import { encodeFrame, FrameError, splitFrames } from "../grpc/framing.js";
import { Channel } from "../util/channel.js";
import type { CallContext } from "./inference-handlers.js";
import type { HeaderReader } from "./rpc-auth.js";
import { toRpcError } from "./rpc-errors.js";

// The hot RPCs over plain gRPC (HTTP/2, protobuf, uncompressed), served straight from the HTTP/2
// stream (Node's core API, below its compatibility layer) without Fastify's and Connect's layers:
// the Dispatch inference calls and the node stream. Per call those layers cost more than the job
// itself on a fast engine (bench dispatch: ~1.3 ms of control-plane CPU per gRPC call against
// ~0.56 ms per OpenAI facade request; an AbortController aborted at every call's end builds a
// DOMException with a stack trace alone), and per node-stream message they were a fifth of the
// control plane's CPU per request.
// What reaches the wire matters as much: a unary answer goes out as one write (response headers
// and the message together; the status trailer follows, Node sends it on the next write), and a
// call that fails before its first message answers trailers-only, in one HEADERS frame. Headers
// sent at the start of a call would cost the caller one more wake-up and read per call.
// The handlers are the very ones Connect runs, so auth, validation and errors are shared. Anything
// else goes to Connect: other methods, the Connect and gRPC-Web protocols, the JSON codec, and
// compressed requests. One difference: a request payload that does not parse answers
// INVALID_ARGUMENT here (Connect says INTERNAL), since the caller sent bad input.

const CONTENT_TYPES = new Set(["application/grpc", "application/grpc+proto"]);
const CONTENT_TYPE = "application/grpc+proto";
/** A batch of answer messages this large is written at once, without waiting for the turn's end. */
const FLUSH_BYTES = 64 * 1024;
/** A bidi stream whose messages pile up unread this deep is cut (a peer flooding us). */
const MAX_QUEUED_MESSAGES = 10_000;

type Unary = (req: never, ctx: CallContext) => Promise<unknown>;
type ServerStreaming = (req: never, ctx: CallContext) => AsyncIterable<unknown>;
type BidiStreaming = (reqs: AsyncIterable<never>, ctx: CallContext) => AsyncIterable<unknown>;

/** One method the fast path serves: its descriptor and its implementation. */
export type FastMethod =
  | { desc: DescMethod & { methodKind: "unary" }; impl: Unary }
  | { desc: DescMethod & { methodKind: "server_streaming" }; impl: ServerStreaming }
  | { desc: DescMethod & { methodKind: "bidi_streaming" }; impl: BidiStreaming };

/** Serves its methods; `handle` returns false for a stream it leaves to Connect. */
export interface GrpcFastPath {
  handle(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): boolean;
}

interface Options {
  readMaxBytes: number;
  logger: Logger;
}

export function createGrpcFastPath(methods: FastMethod[], opts: Options): GrpcFastPath {
  const byPath = new Map<string, FastMethod>();
  for (const m of methods) byPath.set(`/${m.desc.parent.typeName}/${m.desc.name}`, m);
  return {
    handle(stream, headers) {
      if (headers[":method"] !== "POST") return false;
      const method = byPath.get(headers[":path"] ?? "");
      if (!method) return false;
      if (!CONTENT_TYPES.has(headers["content-type"] ?? "")) return false;
      const encoding = headers["grpc-encoding"];
      if (encoding !== undefined && encoding !== "identity") return false;
      void serveCall(method, stream, headers, opts);
      return true;
    },
  };
}

/**
 * The answer side of one call. Messages written in one turn of the event loop leave as one DATA
 * write (a streamed call's "accepted" and "routed", or a finished job's last delta and "done",
 * come in the same turn); response headers go out with the first batch, or, for a call that ends
 * before any message, as a trailers-only answer. The status trailer follows when Node asks for it.
 */
class CallWriter {
  private headersSent = false;
  private trailers: Record<string, string> = { "grpc-status": "0" };
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private flushQueued = false;
  private readonly flushQueuedBatch = () => {
    this.flushQueued = false;
    this.flush();
  };

  constructor(private readonly stream: ServerHttp2Stream) {}

  get gone(): boolean {
    return this.stream.destroyed || this.stream.closed;
  }

  /** Sends the response headers now (a bidi stream's peer learns at once that the call is up). */
  open(): void {
    if (this.headersSent || this.gone) return;
    this.headersSent = true;
    this.stream.respond({ ":status": 200, "content-type": CONTENT_TYPE }, { waitForTrailers: true });
    this.stream.once("wantTrailers", () => {
      if (!this.gone) this.stream.sendTrailers(this.trailers);
    });
  }

  /** Queues one framed message; false when the stream wants a drain before the next. */
  write(frame: Buffer): boolean {
    if (this.gone) return true;
    this.batch.push(frame);
    this.batchBytes += frame.length;
    if (this.batchBytes >= FLUSH_BYTES) {
      this.flush();
      return !this.stream.writableNeedDrain;
    }
    if (!this.flushQueued) {
      this.flushQueued = true;
      // After this turn's microtasks: every message the handler yields in this turn joins the batch.
      process.nextTick(this.flushQueuedBatch);
    }
    return true;
  }

  /** Ends the call with `status` (0 = OK) and, for an error, its message. */
  finish(status: number, message?: string): void {
    if (this.gone) return;
    const trailers: Record<string, string> = { "grpc-status": String(status) };
    if (message !== undefined) trailers["grpc-message"] = encodeURIComponent(message);
    if (this.headersSent || this.batch.length > 0) {
      this.open();
      this.trailers = trailers;
      const last = this.takeBatch();
      if (last) this.stream.end(last);
      else this.stream.end();
    } else {
      this.headersSent = true;
      this.stream.respond({ ":status": 200, "content-type": CONTENT_TYPE, ...trailers }, { endStream: true });
    }
  }

  drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.stream.off("drain", done);
        this.stream.off("close", done);
        resolve();
      };
      this.stream.once("drain", done);
      this.stream.once("close", done);
    });
  }

  private flush(): void {
    const data = this.takeBatch();
    if (!data || this.gone) return;
    this.open();
    this.stream.write(data);
  }

  private takeBatch(): Buffer | undefined {
    if (this.batch.length === 0) return undefined;
    const data =
      this.batch.length === 1 ? (this.batch[0] as Buffer) : Buffer.concat(this.batch, this.batchBytes);
    this.batch = [];
    this.batchBytes = 0;
    return data;
  }
}

/** One call: read the request message(s), run the handler, answer with messages and a status trailer. */
async function serveCall(
  method: FastMethod,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  opts: Options,
): Promise<void> {
  const name = `${method.desc.parent.typeName}/${method.desc.name}`;
  const abort = new AbortController();
  const out = new CallWriter(stream);
  let finished = false;
  // The client cancelled (RST_STREAM) or went away before we answered.
  stream.once("close", () => {
    if (!finished) abort.abort(new ConnectError("the client cancelled the call", Code.Canceled));
  });
  // A reset or a broken connection surfaces here; "close" (above) tells the handler.
  stream.on("error", () => {});
  let deadlineTimer: NodeJS.Timeout | undefined;
  let output: AsyncIterator<unknown> | undefined;
  try {
    const timeoutMs = parseGrpcTimeout(headers["grpc-timeout"]);
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    if (timeoutMs !== undefined) {
      deadlineTimer = setTimeout(
        () => abort.abort(new ConnectError("the call's deadline passed", Code.DeadlineExceeded)),
        timeoutMs,
      );
    }
    const ctx: CallContext = {
      requestHeader: new H2HeaderReader(headers),
      signal: abort.signal,
      timeoutMs: () => (deadline === undefined ? undefined : Math.max(0, deadline - Date.now())),
    };
    const outputSchema = method.desc.output;
    if (method.desc.methodKind === "unary") {
      const input = decode(method.desc.input, await readOneMessage(stream, opts.readMaxBytes));
      const message = await (method.impl as Unary)(input as never, ctx);
      out.write(frame(outputSchema, message));
    } else {
      let source: AsyncIterable<unknown>;
      if (method.desc.methodKind === "server_streaming") {
        const input = decode(method.desc.input, await readOneMessage(stream, opts.readMaxBytes));
        source = (method.impl as ServerStreaming)(input as never, ctx);
      } else {
        out.open();
        source = (method.impl as BidiStreaming)(
          readMessages(stream, method.desc.input, opts.readMaxBytes) as never,
          ctx,
        );
      }
      output = source[Symbol.asyncIterator]();
      for (;;) {
        const next = await output.next();
        if (next.done || out.gone) break;
        if (!out.write(frame(outputSchema, next.value))) await out.drained();
      }
    }
    finished = true;
    out.finish(0);
  } catch (err) {
    finished = true;
    // A deadline or cancel that ended the job surfaces as the job's error; answer with why the call ended.
    const reason = abort.signal.aborted ? abort.signal.reason : err;
    const rpc = toRpcError(reason, opts.logger, name);
    out.finish(rpc.code, rpc.rawMessage);
  } finally {
    clearTimeout(deadlineTimer);
    // A stream the client left mid-way: end the handler's generator (its finally cancels the job).
    await output?.return?.(undefined);
  }
}

function decode(schema: DescMessage, payload: Uint8Array): unknown {
  try {
    return fromBinary(schema, payload);
  } catch (err) {
    throw new ConnectError(`parse binary: ${(err as Error).message}`, Code.InvalidArgument);
  }
}

/**
 * splitFrames with its refusals as ConnectErrors, so the handler's error path maps them like any
 * other call error.
 */
function splitFramesOrFail(buf: Buffer, readMaxBytes: number, onMessage: (payload: Buffer) => void): Buffer {
  try {
    return splitFrames(buf, readMaxBytes, onMessage);
  } catch (err) {
    if (err instanceof FrameError) throw new ConnectError(err.message, err.code as Code);
    throw err;
  }
}

/** The request's single message (unary and server-streaming calls), within the read limit. */
function readOneMessage(req: ServerHttp2Stream, readMaxBytes: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    let pending: Buffer = Buffer.alloc(0);
    const messages: Buffer[] = [];
    const fail = (err: ConnectError) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.resume(); // discard the rest, so the stream can still carry our answer
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      try {
        pending = splitFramesOrFail(
          pending.length === 0 ? chunk : Buffer.concat([pending, chunk]),
          readMaxBytes,
          (m) => messages.push(m),
        );
      } catch (err) {
        fail(err as ConnectError);
      }
    };
    const onEnd = () => {
      if (pending.length > 0)
        reject(new ConnectError("protocol error: the last message is incomplete", Code.InvalidArgument));
      else if (messages.length !== 1)
        reject(
          new ConnectError(
            `protocol error: the call takes one message, got ${messages.length}`,
            Code.InvalidArgument,
          ),
        );
      else resolve(messages[0] as Buffer);
    };
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", () => fail(new ConnectError("the request stream failed", Code.Canceled)));
  });
}

/** The request's messages as they arrive (bidi streams); a bad frame ends the iteration with its error. */
function readMessages(
  req: ServerHttp2Stream,
  schema: DescMessage,
  readMaxBytes: number,
): AsyncIterable<unknown> {
  const channel = new Channel<unknown>();
  let pending: Buffer = Buffer.alloc(0);
  const fail = (err: ConnectError) => {
    req.off("data", onData);
    req.resume();
    channel.close(err);
  };
  const onData = (chunk: Buffer) => {
    try {
      pending = splitFramesOrFail(
        pending.length === 0 ? chunk : Buffer.concat([pending, chunk]),
        readMaxBytes,
        (m) => channel.push(decode(schema, m)),
      );
      if (channel.size > MAX_QUEUED_MESSAGES) {
        throw new ConnectError("the stream sends faster than it is read", Code.ResourceExhausted);
      }
    } catch (err) {
      fail(err as ConnectError);
    }
  };
  req.on("data", onData);
  req.once("end", () => {
    if (pending.length > 0)
      fail(new ConnectError("protocol error: the last message is incomplete", Code.InvalidArgument));
    else channel.close();
  });
  req.once("error", () => channel.close(new ConnectError("the request stream failed", Code.Canceled)));
  return channel;
}

/** One length-prefixed gRPC message. */
function frame(schema: DescMessage, message: unknown): Buffer {
  // Handlers return either a built message or an init object (Connect accepts both).
  const built = (message as { $typeName?: string }).$typeName === schema.typeName;
  return encodeFrame(
    toBinary(schema, built ? (message as never) : create(schema, message as MessageInitShape<DescMessage>)),
  );
}

const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** The `grpc-timeout` header (e.g. "250m", "5S") in ms; undefined when absent. */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = typeof value === "string" ? /^(\d{1,8})([HMSmun])$/.exec(value) : null;
  if (!match) {
    throw new ConnectError(
      `protocol error: invalid grpc-timeout value: ${String(value)}`,
      Code.InvalidArgument,
    );
  }
  return Number(match[1]) * (TIMEOUT_UNIT_MS[match[2] as string] as number);
}

/** Request headers as the handlers read them (Connect hands them a WHATWG Headers). */
class H2HeaderReader implements HeaderReader {
  constructor(private readonly headers: IncomingHttpHeaders) {}
  get(name: string): string | null {
    const v = this.headers[name];
    if (v === undefined) return null;
    return Array.isArray(v) ? v.join(", ") : v;
  }
}
