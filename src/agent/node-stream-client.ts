import http2 from "node:http2";
import type net from "node:net";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import {
  type ControlMessage,
  ControlMessageSchema,
  NodeMessageSchema,
  NodeService,
} from "../gen/llmlb/v1/node_pb.js";
import { encodeFrame, FrameError, splitFrames } from "../grpc/framing.js";
import { Channel } from "../util/channel.js";

// The agent's end of NodeService.Connect: one gRPC bidi stream over node:http2, with gRPC's framing,
// its status trailer and HTTP/2 keepalive pings. Why not connect-node's client, which the agent
// used before: every call builds WHATWG Headers, which loads Node's internal undici and compiles
// its WASM HTTP parser — several MiB of an idle agent's RSS against a 60 MB target — and its
// universal request pipeline cost ~100 µs of agent CPU per job. The agent needs one method of
// one protocol, so it speaks it directly; the control plane still serves every protocol.

type NodeMessageInit = MessageInitShape<typeof NodeMessageSchema>;

const PATH = `/${NodeService.typeName}/${NodeService.method.connect.name}`;
const CANCEL = http2.constants.NGHTTP2_CANCEL;

/** The gRPC status codes the agent tells apart (gRPC's numbering). */
export const StreamCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  PERMISSION_DENIED: 7,
  INTERNAL: 13,
  UNIMPLEMENTED: 12,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

const CODE_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

/** Why the node stream ended, as a gRPC status. */
export class StreamError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = "StreamError";
  }

  /** The status's name (UNAUTHENTICATED, UNAVAILABLE, …) for logs. */
  get codeName(): string {
    return CODE_NAMES[this.code] ?? `CODE_${this.code}`;
  }
}

export interface NodeStreamOptions {
  /** The control plane's base URL: http:// (h2c) or https:// (TLS, ALPN h2). */
  readonly server: string;
  readonly token: string;
  /** Aborting ends the call at once (RST_STREAM) and closes the connection. */
  readonly signal: AbortSignal;
  /** Opens the TCP/TLS connection (the agent sets TCP_NODELAY and ALPN). */
  readonly createConnection: (authority: URL) => net.Socket;
  readonly userAgent: string;
  /** An HTTP/2 PING this often proves the control plane is still there (NAT boxes drop idle flows). */
  readonly pingIntervalMs?: number;
  /** A PING unanswered this long closes the connection, so the agent reconnects. */
  readonly pingTimeoutMs?: number;
  /** Largest control message accepted (a job carries the request body). */
  readonly readMaxBytes?: number;
}

const DEFAULT_PING_INTERVAL_MS = 10_000;
const DEFAULT_PING_TIMEOUT_MS = 15_000;
const DEFAULT_READ_MAX_BYTES = 256 * 1024 * 1024;

/** One open node stream. */
export interface NodeStream {
  /**
   * The control plane's messages. The iteration ends cleanly on an OK status, and throws a
   * StreamError for anything else: a status from the control plane, a refused connection, a lost
   * one, a frame that does not parse, or the abort signal.
   */
  readonly messages: AsyncIterable<ControlMessage>;
  /**
   * Sends a message. Messages sent in the same tick leave in one write (one DATA frame where they
   * fit): a batch step of the engine ends many jobs' reads at once. Ignored once the stream ended.
   */
  send(message: NodeMessageInit): void;
  /** Half-closes: the agent has nothing more to say (the control plane then ends the call). */
  close(): void;
  /** True once closed by us or ended. */
  readonly closed: boolean;
}

/** Opens the node stream (the connection, then the call). */
export function openNodeStream(opts: NodeStreamOptions): NodeStream {
  const incoming = new Channel<ControlMessage>();
  const url = new URL(opts.server);
  const readMaxBytes = opts.readMaxBytes ?? DEFAULT_READ_MAX_BYTES;
  let ended = false;
  let status: StreamError | "ok" | undefined;

  const session = http2.connect(url, { createConnection: () => opts.createConnection(url) });
  const stream = session.request({
    ":method": "POST",
    ":path": PATH,
    "content-type": "application/grpc+proto",
    te: "trailers",
    authorization: `Bearer ${opts.token}`,
    "user-agent": opts.userAgent,
  });

  const end = (error?: StreamError) => {
    if (ended) return;
    ended = true;
    clearInterval(pinger);
    opts.signal.removeEventListener("abort", onAbort);
    if (!stream.closed) stream.close(CANCEL);
    session.close();
    // An abort mid-connect can leave the socket half-open; close() alone waits for it.
    setImmediate(() => session.destroy());
    incoming.close(error);
  };
  const onAbort = () => end(new StreamError("the agent closed the stream", StreamCode.CANCELLED));
  if (opts.signal.aborted) queueMicrotask(onAbort);
  else opts.signal.addEventListener("abort", onAbort, { once: true });

  session.on("error", (err) => end(unreachable(err)));
  session.on("close", () =>
    end(new StreamError("the connection to the control plane closed", StreamCode.UNAVAILABLE)),
  );

  const pinger = setInterval(() => {
    const timer = setTimeout(
      () => session.destroy(new Error("keepalive ping unanswered")),
      opts.pingTimeoutMs ?? DEFAULT_PING_TIMEOUT_MS,
    );
    if (!session.ping(() => clearTimeout(timer))) clearTimeout(timer);
  }, opts.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS);
  pinger.unref();

  stream.on("response", (headers) => {
    const httpStatus = Number(headers[":status"]);
    if (httpStatus !== 200) {
      status = new StreamError(`the control plane answered HTTP ${httpStatus}`, httpToGrpcCode(httpStatus));
    } else if (!String(headers["content-type"] ?? "").startsWith("application/grpc")) {
      status = new StreamError(
        `the control plane answered ${String(headers["content-type"])}, not gRPC`,
        StreamCode.UNKNOWN,
      );
    } else if (headers["grpc-status"] !== undefined) {
      status = statusOf(headers); // trailers-only: the call ended before any message
    }
  });

  let pending: Buffer = Buffer.alloc(0);
  stream.on("data", (chunk: Buffer) => {
    if (ended || status !== undefined) return; // the body of an HTTP error is not gRPC frames
    try {
      pending = splitFrames(
        pending.length === 0 ? chunk : Buffer.concat([pending, chunk]),
        readMaxBytes,
        (m) => incoming.push(fromBinary(ControlMessageSchema, m)),
      );
    } catch (err) {
      end(
        err instanceof FrameError
          ? new StreamError(err.message, err.code)
          : new StreamError(
              `a control message does not parse: ${(err as Error).message}`,
              StreamCode.INTERNAL,
            ),
      );
    }
  });
  stream.on("trailers", (trailers) => {
    status ??= statusOf(trailers);
  });
  // A failed connection surfaces as the stream's error (then its close) before the session's.
  let transportError: Error | undefined;
  stream.on("error", (err) => {
    transportError ??= err;
  });
  // The peer's END_STREAM (after its trailers) completes the call, even while our side is still
  // open: "close" would wait for both halves, and the agent keeps its half open for the session.
  const settle = () => {
    if (status === "ok") end();
    else if (status) end(status);
    else if (transportError) end(unreachable(transportError));
    else if (stream.rstCode)
      end(
        new StreamError(
          `the control plane reset the stream (HTTP/2 code ${stream.rstCode})`,
          stream.rstCode === CANCEL ? StreamCode.CANCELLED : StreamCode.UNAVAILABLE,
        ),
      );
    else end(new StreamError("the control plane ended the stream without a gRPC status", StreamCode.UNKNOWN));
  };
  stream.on("end", settle);
  stream.on("close", settle);

  let halfClosed = false;
  let corked = false;
  const uncork = () => {
    corked = false;
    stream.uncork();
  };
  return {
    messages: incoming,
    send(message) {
      if (ended || halfClosed || stream.destroyed) return;
      const frame = encodeFrame(toBinary(NodeMessageSchema, create(NodeMessageSchema, message)));
      if (!corked) {
        corked = true;
        stream.cork();
        process.nextTick(uncork);
      }
      // Unbounded like any queue of the agent's: what a job says is small beside what it waits on.
      stream.write(frame);
    },
    close() {
      if (halfClosed) return;
      halfClosed = true;
      if (!stream.destroyed) stream.end();
    },
    get closed() {
      return ended || halfClosed;
    },
  };
}

const unreachable = (err: Error) =>
  new StreamError(`control plane unreachable: ${err.message}`, StreamCode.UNAVAILABLE);

function statusOf(headers: http2.IncomingHttpHeaders): StreamError | "ok" {
  const code = Number(headers["grpc-status"]);
  if (code === 0) return "ok";
  let message = String(headers["grpc-message"] ?? "");
  try {
    message = decodeURIComponent(message);
  } catch {
    // Not percent-encoded as it should be: keep it as sent.
  }
  return new StreamError(
    message || `gRPC status ${code}`,
    Number.isInteger(code) ? code : StreamCode.UNKNOWN,
  );
}

/** gRPC's mapping of an HTTP status that is not 200 (a proxy, or no gRPC server at all). */
function httpToGrpcCode(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return StreamCode.INTERNAL;
    case 401:
      return StreamCode.UNAUTHENTICATED;
    case 403:
      return StreamCode.PERMISSION_DENIED;
    case 404:
      return StreamCode.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return StreamCode.UNAVAILABLE;
    default:
      return StreamCode.UNKNOWN;
  }
}
