import { once } from "node:events";
import http2 from "node:http2";
import net from "node:net";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import {
  type NodeStream,
  openNodeStream,
  StreamCode,
  StreamError,
} from "../../../src/agent/node-stream-client.js";
import {
  type ControlMessage,
  ControlMessageSchema,
  type NodeMessage,
  NodeMessageSchema,
} from "../../../src/gen/llmlb/v1/node_pb.js";
import { encodeFrame, splitFrames } from "../../../src/grpc/framing.js";

// The agent's node-stream client against real HTTP/2 peers on port 0: a gRPC-speaking test server
// (whatever each case needs it to do wrong), and a TCP peer that never answers.

const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

/** An h2c server running `onCall` for every stream; resolves with its base URL. */
async function grpcPeer(
  onCall: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void,
) {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  server.on("stream", onCall);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  closers.push(() => {
    for (const s of sessions) s.destroy();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

/** Reads the client's messages off a server stream as they arrive. */
function readNodeMessages(stream: http2.ServerHttp2Stream): NodeMessage[] {
  const got: NodeMessage[] = [];
  let pending: Buffer = Buffer.alloc(0);
  stream.on("data", (chunk: Buffer) => {
    pending = splitFrames(Buffer.concat([pending, chunk]), 1 << 20, (m) =>
      got.push(fromBinary(NodeMessageSchema, m)),
    );
  });
  return got;
}

const control = (init: MessageInitShape<typeof ControlMessageSchema>) =>
  encodeFrame(toBinary(ControlMessageSchema, create(ControlMessageSchema, init)));

function open(server: string, extra: Partial<Parameters<typeof openNodeStream>[0]> = {}) {
  const abort = new AbortController();
  const stream = openNodeStream({
    server,
    token: "nt-secret",
    signal: abort.signal,
    createConnection: (u) => net.connect({ host: u.hostname, port: Number(u.port) }),
    userAgent: "llmlb-agent/test",
    ...extra,
  });
  return { stream, abort };
}

/** Everything the stream yields, then how it ended (undefined: an OK status). */
async function drain(stream: NodeStream) {
  const got: ControlMessage[] = [];
  try {
    for await (const m of stream.messages) got.push(m);
    return { got, error: undefined };
  } catch (err) {
    return { got, error: err as StreamError };
  }
}

describe("node-stream client", () => {
  it("sends framed messages with the token, reads the peer's, and ends cleanly on status 0", async () => {
    let seen: { headers: http2.IncomingHttpHeaders; messages: NodeMessage[] } | undefined;
    const url = await grpcPeer((stream, headers) => {
      const messages = readNodeMessages(stream);
      seen = { headers, messages };
      stream.respond({ ":status": 200, "content-type": "application/grpc+proto" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.write(control({ msg: { case: "ping", value: { pingId: 7n } } }));
      // Answer once the client half-closes, as the control plane does.
      stream.on("end", () => stream.end(control({ msg: { case: "drain", value: { reason: "bye" } } })));
    });
    const { stream } = open(url);
    stream.send({ seq: 1n, msg: { case: "register", value: { nodeId: "n1" } } });
    stream.send({ seq: 2n, msg: { case: "heartbeat", value: { sequence: 1n } } });
    const result = drain(stream);
    await new Promise((r) => setTimeout(r, 50));
    stream.send({ seq: 3n, msg: { case: "heartbeat", value: { sequence: 2n } } });
    stream.close();
    stream.send({ seq: 4n, msg: { case: "heartbeat", value: { sequence: 3n } } }); // after close: dropped
    const { got, error } = await result;
    expect(error).toBeUndefined();
    expect(got.map((m) => m.msg.case)).toEqual(["ping", "drain"]);
    expect(got[0]?.msg.case === "ping" && got[0].msg.value.pingId).toBe(7n);
    expect(seen?.headers[":path"]).toBe("/llmlb.v1.NodeService/Connect");
    expect(seen?.headers.authorization).toBe("Bearer nt-secret");
    expect(seen?.headers.te).toBe("trailers");
    expect(seen?.messages.map((m) => [m.seq, m.msg.case])).toEqual([
      [1n, "register"],
      [2n, "heartbeat"],
      [3n, "heartbeat"],
    ]);
    expect(stream.closed).toBe(true);
  });

  it("reports the peer's status and percent-decoded message (trailers-only answer)", async () => {
    const url = await grpcPeer((stream) => {
      stream.respond(
        {
          ":status": 200,
          "content-type": "application/grpc",
          "grpc-status": "16",
          "grpc-message": encodeURIComponent("invalid node token: é"),
        },
        { endStream: true },
      );
    });
    const { error } = await drain(open(url).stream);
    expect(error).toBeInstanceOf(StreamError);
    expect(error?.code).toBe(StreamCode.UNAUTHENTICATED);
    expect(error?.codeName).toBe("UNAUTHENTICATED");
    expect(error?.message).toBe("invalid node token: é");
  });

  it("ends on the peer's status while its own side is still open (the agent never half-closes first)", async () => {
    const url = await grpcPeer((stream) => {
      readNodeMessages(stream); // keeps reading, as the control plane does
      stream.respond({ ":status": 200, "content-type": "application/grpc+proto" }, { waitForTrailers: true });
      stream.on("wantTrailers", () =>
        stream.sendTrailers({ "grpc-status": "9", "grpc-message": "node id in use" }),
      );
      stream.end(control({ msg: { case: "ping", value: { pingId: 3n } } }));
    });
    const { stream } = open(url); // never half-closed, as the agent's is not
    stream.send({ seq: 1n, msg: { case: "register", value: { nodeId: "n1" } } });
    const { got, error } = await drain(stream);
    expect(got.map((m) => m.msg.case)).toEqual(["ping"]);
    expect(error?.code).toBe(9); // FAILED_PRECONDITION
    expect(error?.message).toBe("node id in use");
  });

  it("ends with UNKNOWN when the peer ends the stream without a status", async () => {
    const url = await grpcPeer((stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc+proto" });
      stream.end();
    });
    const { error } = await drain(open(url).stream);
    expect(error?.code).toBe(StreamCode.UNKNOWN);
    expect(error?.message).toMatch(/without a gRPC status/);
  });

  it("maps an HTTP error from a proxy to a gRPC code", async () => {
    const url = await grpcPeer((stream) => {
      stream.respond({ ":status": 503, "content-type": "text/plain" });
      stream.end("upstream down");
    });
    const { error } = await drain(open(url).stream);
    expect(error?.code).toBe(StreamCode.UNAVAILABLE);
    expect(error?.message).toMatch(/HTTP 503/);
  });

  it("refuses a control message over its read limit, judged from the frame header", async () => {
    const url = await grpcPeer((stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc+proto" });
      const header = Buffer.from([0, 0, 0, 0, 0]);
      header.writeUInt32BE(64 * 1024 * 1024, 1); // announces 64 MiB, sends none of it
      stream.write(header);
    });
    const { error } = await drain(open(url, { readMaxBytes: 1024 }).stream);
    expect(error?.code).toBe(8); // RESOURCE_EXHAUSTED
    expect(error?.message).toMatch(/larger than the limit of 1024 bytes/);
  });

  it("ends with INTERNAL on a control message that does not parse", async () => {
    const url = await grpcPeer((stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc+proto" });
      stream.write(encodeFrame(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])));
    });
    const { error } = await drain(open(url).stream);
    expect(error?.code).toBe(StreamCode.INTERNAL);
    expect(error?.message).toMatch(/does not parse/);
  });

  it("cancels the call on abort: the peer sees the stream reset", async () => {
    let peerClosed: Promise<unknown> | undefined;
    const url = await grpcPeer((stream) => {
      peerClosed = once(stream, "close");
      stream.respond({ ":status": 200, "content-type": "application/grpc+proto" });
      stream.write(control({ msg: { case: "ping", value: { pingId: 1n } } }));
    });
    const { stream, abort } = open(url);
    const it = stream.messages[Symbol.asyncIterator]();
    expect((await it.next()).value?.msg.case).toBe("ping");
    abort.abort();
    await expect(it.next()).rejects.toMatchObject({ code: StreamCode.CANCELLED });
    await peerClosed;
  });

  it("gives up on a peer that accepts the connection and never answers (keepalive ping)", async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s)); // reads nothing, writes nothing
    silent.listen(0, "127.0.0.1");
    await once(silent, "listening");
    closers.push(() => {
      for (const s of sockets) s.destroy();
      silent.close();
    });
    const url = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    const started = Date.now();
    const { error } = await drain(open(url, { pingIntervalMs: 100, pingTimeoutMs: 200 }).stream);
    expect(error?.code).toBe(StreamCode.UNAVAILABLE);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("reports a refused connection as UNAVAILABLE", async () => {
    const probe = net.createServer();
    probe.listen(0, "127.0.0.1");
    await once(probe, "listening");
    const port = (probe.address() as net.AddressInfo).port;
    probe.close();
    await once(probe, "close");
    const { error } = await drain(open(`http://127.0.0.1:${port}`).stream);
    expect(error?.code).toBe(StreamCode.UNAVAILABLE);
    expect(error?.message).toMatch(/ECONNREFUSED/);
  });
});
