import type { Http2ServerRequest, Http2ServerResponse, IncomingHttpHeaders } from "node:http2";
import { create, type DescMessage, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import { DispatchService } from "../gen/llmlb/v1/dispatch_pb.js";
import type { CallContext, InferenceHandlers } from "./inference-handlers.js";
import { toRpcError } from "./rpc-errors.js";

// The Dispatch service's inference RPCs over plain gRPC (HTTP/2, protobuf, uncompressed), served
// straight from the HTTP/2 request without Fastify's and Connect's layers: per call those cost more
// than the job itself on a fast engine (bench dispatch: ~1.3 ms of control-plane CPU per gRPC call
// against ~0.56 ms per OpenAI facade request; an AbortController aborted at every call's end builds a
// DOMException with a stack trace alone). The handlers are the ones Connect runs (inference-handlers.ts),
// so both doors share auth, validation, the queue, selection, cancellation and errors.
// Anything else goes to Connect: other methods, the Connect and gRPC-Web protocols, the JSON codec,
// and compressed requests.

const CONTENT_TYPES = new Set(["application/grpc", "application/grpc+proto"]);
const RESPONSE_HEADERS = { "content-type": "application/grpc+proto" };
const FRAME_HEADER_BYTES = 5;

interface FastMethod {
  readonly name: string;
  readonly input: DescMessage;
  readonly output: DescMessage;
  readonly streaming: boolean;
  readonly run: (req: never, ctx: CallContext) => Promise<unknown> | AsyncGenerator<unknown>;
}

/** Serves the hot RPCs itself; `handle` returns false for a request it leaves to Connect. */
export interface GrpcFastPath {
  handle(req: Http2ServerRequest, res: Http2ServerResponse): boolean;
}

export function createGrpcFastPath(
  handlers: InferenceHandlers,
  opts: { readMaxBytes: number; logger: Logger },
): GrpcFastPath {
  const methods = new Map<string, FastMethod>();
  const m = DispatchService.method;
  for (const [desc, run] of [
    [m.createChatCompletion, handlers.createChatCompletion],
    [m.createCompletion, handlers.createCompletion],
    [m.streamChatCompletion, handlers.streamChatCompletion],
  ] as const) {
    methods.set(`/${DispatchService.typeName}/${desc.name}`, {
      name: `${DispatchService.typeName}/${desc.name}`,
      input: desc.input,
      output: desc.output,
      streaming: desc.methodKind === "server_streaming",
      run: run as FastMethod["run"],
    });
  }

  return {
    handle(req, res) {
      if (req.httpVersionMajor !== 2 || req.method !== "POST") return false;
      const method = methods.get(req.url);
      if (!method) return false;
      const h = req.headers;
      if (!CONTENT_TYPES.has(h["content-type"] ?? "")) return false;
      const encoding = h["grpc-encoding"];
      if (encoding !== undefined && encoding !== "identity") return false;
      void serveCall(method, req, res, opts);
      return true;
    },
  };
}

/** One call: read the request message, run the handler, answer with messages and a status trailer. */
async function serveCall(
  method: FastMethod,
  req: Http2ServerRequest,
  res: Http2ServerResponse,
  opts: { readMaxBytes: number; logger: Logger },
): Promise<void> {
  const abort = new AbortController();
  let finished = false;
  // The client cancelled (RST_STREAM) or went away before we answered.
  res.once("close", () => {
    if (!finished) abort.abort(new ConnectError("the client cancelled the call", Code.Canceled));
  });
  let deadlineTimer: NodeJS.Timeout | undefined;
  let output: AsyncGenerator<unknown> | undefined;
  res.writeHead(200, RESPONSE_HEADERS);
  try {
    const timeoutMs = parseGrpcTimeout(req.headers["grpc-timeout"]);
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    if (timeoutMs !== undefined) {
      deadlineTimer = setTimeout(
        () => abort.abort(new ConnectError("the call's deadline passed", Code.DeadlineExceeded)),
        timeoutMs,
      );
    }
    const payload = await readMessage(req, opts.readMaxBytes);
    let input: unknown;
    try {
      input = fromBinary(method.input, payload);
    } catch (err) {
      throw new ConnectError(`parse binary: ${(err as Error).message}`, Code.InvalidArgument);
    }
    const ctx: CallContext = {
      requestHeader: new H2HeaderReader(req.headers),
      signal: abort.signal,
      timeoutMs: () => (deadline === undefined ? undefined : Math.max(0, deadline - Date.now())),
    };
    if (method.streaming) {
      output = method.run(input as never, ctx) as AsyncGenerator<unknown>;
      for await (const message of output) {
        if (res.stream.destroyed) break;
        if (!res.write(frame(method.output, message))) await drained(res);
      }
    } else {
      const message = await (method.run(input as never, ctx) as Promise<unknown>);
      if (!res.stream.destroyed) res.write(frame(method.output, message));
    }
    finished = true;
    if (!res.stream.destroyed) {
      res.addTrailers({ "grpc-status": "0" });
      res.end();
    }
  } catch (err) {
    finished = true;
    // A deadline or cancel that ended the job surfaces as the job's error; answer with why the call ended.
    const reason = abort.signal.aborted ? abort.signal.reason : err;
    const rpc = toRpcError(reason, opts.logger, method.name);
    if (!res.stream.destroyed) {
      res.addTrailers({
        "grpc-status": String(rpc.code),
        "grpc-message": encodeURIComponent(rpc.rawMessage),
      });
      res.end();
    }
  } finally {
    clearTimeout(deadlineTimer);
    // A stream the client left mid-way: end the generator so its job is cancelled on the node.
    await output?.return(undefined);
  }
}

/** The request's single length-prefixed message (gRPC framing), within the read limit. */
function readMessage(req: Http2ServerRequest, readMaxBytes: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const fail = (err: ConnectError) => {
      req.off("data", onData);
      req.resume(); // discard the rest, so the stream can still carry our answer
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > readMaxBytes + FRAME_HEADER_BYTES) {
        fail(
          new ConnectError(
            `message is larger than the limit of ${readMaxBytes} bytes`,
            Code.ResourceExhausted,
          ),
        );
        return;
      }
      parts.push(chunk);
    };
    req.on("data", onData);
    req.once("error", () => fail(new ConnectError("the request stream failed", Code.Canceled)));
    req.once("end", () => {
      const body = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
      if (body.length < FRAME_HEADER_BYTES) {
        reject(new ConnectError("protocol error: the request has no message", Code.InvalidArgument));
        return;
      }
      const flags = body[0] as number;
      const length = body.readUInt32BE(1);
      if (flags & 1) {
        reject(new ConnectError("protocol error: a compressed message without grpc-encoding", Code.Internal));
      } else if (length > readMaxBytes) {
        reject(
          new ConnectError(
            `message is larger than the limit of ${readMaxBytes} bytes`,
            Code.ResourceExhausted,
          ),
        );
      } else if (body.length !== FRAME_HEADER_BYTES + length) {
        reject(
          new ConnectError("protocol error: a unary call takes exactly one message", Code.InvalidArgument),
        );
      } else {
        resolve(body.subarray(FRAME_HEADER_BYTES));
      }
    });
  });
}

/** One length-prefixed gRPC message. */
function frame(schema: DescMessage, message: unknown): Buffer {
  const bytes = toBinary(schema, create(schema, message as MessageInitShape<DescMessage>));
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bytes.length);
  out[0] = 0;
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, FRAME_HEADER_BYTES);
  return out;
}

function drained(res: Http2ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
  });
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
class H2HeaderReader {
  constructor(private readonly headers: IncomingHttpHeaders) {}
  get(name: string): string | null {
    const v = this.headers[name];
    if (v === undefined) return null;
    return Array.isArray(v) ? v.join(", ") : v;
  }
}
