import http from "node:http";
import http2 from "node:http2";
import net from "node:net";

/** A request listener for HTTP/1.1 and HTTP/2 (compatibility API) alike. */
export type RequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/**
 * Takes an HTTP/2 stream on Node's core API before the compatibility layer wraps it in a
 * request/response pair; returns false to leave it to the request handler.
 */
export type StreamClaim = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => boolean;

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
// Enough bytes to tell "PRI" from "POST"/"PUT"/"PATCH": they first differ at the third byte.
const SNIFF_BYTES = 3;
const SNIFF_TIMEOUT_MS = 10_000;
const CLOSE_GRACE_MS = 2_000;

/** HTTP/2 settings shared by the cleartext and TLS servers (long-lived node streams, many in flight). */
const H2_OPTIONS: http2.ServerOptions = {
  maxSessionMemory: 64,
  settings: { maxConcurrentStreams: 10_000, initialWindowSize: 4 * 1024 * 1024 },
};

/**
 * One TCP port serving HTTP/1.1 and HTTP/2 cleartext (prior knowledge) by sniffing the connection
 * preface: Node's plaintext http2 server cannot serve HTTP/1.1 clients by itself.
 */
export class DualProtocolServer extends net.Server {
  readonly h1: http.Server;
  readonly h2: http2.Http2Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  constructor(handler: RequestHandler, claim?: StreamClaim) {
    super({ noDelay: true }, (socket) => this.route(socket));
    this.h1 = http.createServer({ noDelay: true, keepAliveTimeout: 65_000 }, handler as http.RequestListener);
    this.h2 = http2.createServer(
      H2_OPTIONS,
      handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
    );
    if (claim) claimStreams(this.h2, claim);
    this.h2.on("session", (s) => {
      this.sessions.add(s);
      s.once("close", () => this.sessions.delete(s));
    });
  }

  private route(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    let buf: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), SNIFF_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const n = Math.min(buf.length, H2_PREFACE.length);
      const maybeH2 = buf.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      // Wait while the bytes so far could still be either protocol (a client may send one byte at a time).
      if (maybeH2 && buf.length < SNIFF_BYTES) return;
      clearTimeout(timer);
      socket.off("data", onData);
      socket.pause();
      socket.unshift(buf);
      if (maybeH2) {
        this.h2.emit("connection", socket);
      } else {
        this.h1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
  }

  /** Stops accepting, closes HTTP/2 sessions and idle HTTP/1 sockets, destroys the rest after a grace period. */
  override close(cb?: (err?: Error) => void): this {
    super.close(cb);
    for (const s of this.sessions) s.close();
    this.h1.closeIdleConnections();
    const t = setTimeout(() => this.closeAllConnections(), CLOSE_GRACE_MS);
    t.unref();
    return this;
  }

  /** Destroys every open connection now. */
  closeAllConnections(): void {
    for (const s of this.sessions) s.destroy();
    for (const s of this.sockets) s.destroy();
  }
}

/** TLS on the same port, with ALPN choosing h2 or http/1.1. */
export function createTlsServer(
  handler: RequestHandler,
  cert: Buffer,
  key: Buffer,
  claim?: StreamClaim,
): http2.Http2SecureServer {
  const server = http2.createSecureServer({ ...H2_OPTIONS, cert, key, allowHTTP1: true }, handler as never);
  if (claim) claimStreams(server, claim);
  return server;
}

/**
 * Puts `claim` in front of the server's "stream" listeners. Node adds its compatibility layer as a
 * "stream" listener when the request handler is attached (at construction); that listener now runs
 * only for the streams `claim` leaves.
 */
function claimStreams(server: http2.Http2Server | http2.Http2SecureServer, claim: StreamClaim): void {
  const compat = server.listeners("stream") as ((...args: unknown[]) => void)[];
  server.removeAllListeners("stream");
  server.on(
    "stream",
    (
      stream: http2.ServerHttp2Stream,
      headers: http2.IncomingHttpHeaders,
      flags: number,
      rawHeaders: string[],
    ) => {
      if (claim(stream, headers)) return;
      for (const listener of compat) listener.call(server, stream, headers, flags, rawHeaders);
    },
  );
}
