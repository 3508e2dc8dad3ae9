import http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ChatRole,
  CreateChatCompletionRequestSchema,
  CreateChatCompletionResponseSchema,
  DispatchService,
  StreamChatCompletionRequestSchema,
  StreamChatCompletionResponseSchema,
} from "../../src/gen/llmlb/v1/dispatch_pb.js";
import { type Cluster, startCluster } from "../helpers/cluster.js";

// The hot Dispatch RPCs are served by a fast path in front of Connect (src/dispatch/grpc-fast-path.ts).
// dispatch.test.ts runs every behaviour through both doors' clients; this file covers what only the
// fast path parses itself: gRPC framing, grpc-timeout, and what it leaves to Connect.

const MODEL = "llama-3.1-8b";
const PATH = `/${DispatchService.typeName}/${DispatchService.method.createChatCompletion.name}`;
const STREAM_PATH = `/${DispatchService.typeName}/${DispatchService.method.streamChatCompletion.name}`;

let c: Cluster;
let session: http2.ClientHttp2Session;

beforeAll(async () => {
  c = await startCluster({
    nodes: [{ id: "n-a", profile: "rtx4090", model: MODEL, seed: 1 }],
    timeScale: 20,
  });
  session = http2.connect(c.url);
}, 60_000);

afterAll(async () => {
  session?.close();
  await c?.stop();
});

const chatRequest = () =>
  toBinary(
    CreateChatCompletionRequestSchema,
    create(CreateChatCompletionRequestSchema, {
      model: MODEL,
      messages: [{ role: ChatRole.USER, content: "hello" }],
      sampling: { maxTokens: 4 },
    }),
  );

const streamRequest = () =>
  toBinary(
    StreamChatCompletionRequestSchema,
    create(StreamChatCompletionRequestSchema, {
      model: MODEL,
      messages: [{ role: ChatRole.USER, content: "hello" }],
      sampling: { maxTokens: 4 },
    }),
  );

/** The payloads of a body of length-prefixed gRPC messages. */
function frames(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + 5 <= body.length; at += 5 + body.readUInt32BE(at + 1)) {
    out.push(body.subarray(at + 5, at + 5 + body.readUInt32BE(at + 1)));
  }
  return out;
}

function envelope(payload: Uint8Array, flags = 0): Buffer {
  const out = Buffer.alloc(5 + payload.length);
  out[0] = flags;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, 5);
  return out;
}

interface RawAnswer {
  status: number | undefined;
  /** grpc-message, decoded, from the trailers or a trailers-only answer's headers. */
  message: string;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  body: Buffer;
  /** The body as the DATA frames delivered it. */
  chunks: Buffer[];
}

/** One gRPC call by hand over a plain HTTP/2 client, so the bytes on the wire are ours to choose. */
function rawCall(body: Buffer, extraHeaders: Record<string, string> = {}, path = PATH): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
      authorization: `Bearer ${c.apiKey}`,
      ...extraHeaders,
    });
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const parts: Buffer[] = [];
    stream.on("response", (h) => {
      headers = h;
    });
    stream.on("trailers", (t) => {
      trailers = t;
    });
    stream.on("data", (d: Buffer) => parts.push(d));
    stream.on("error", reject);
    stream.on("end", () => {
      // A trailers-only answer carries its status in the headers.
      const status = trailers["grpc-status"] ?? headers["grpc-status"];
      const message = trailers["grpc-message"] ?? headers["grpc-message"];
      resolve({
        status: status === undefined ? undefined : Number(status),
        message: message === undefined ? "" : decodeURIComponent(String(message)),
        headers,
        trailers,
        body: Buffer.concat(parts),
        chunks: parts,
      });
    });
    stream.end(body);
  });
}

describe("gRPC fast path for the hot Dispatch RPCs", () => {
  it("answers a hand-framed call: headers, one length-prefixed message, then grpc-status 0", async () => {
    const r = await rawCall(envelope(chatRequest()));
    expect(r.headers[":status"]).toBe(200);
    expect(r.headers["content-type"]).toBe("application/grpc+proto");
    expect(r.status).toBe(grpc.status.OK);
    expect(r.body.readUInt32BE(1)).toBe(r.body.length - 5);
  });

  it("a failed call answers trailers-only; messages of one turn share a DATA frame", async () => {
    const refused = await rawCall(envelope(chatRequest()), { authorization: "Bearer sk-nope" });
    expect(refused.status).toBe(grpc.status.UNAUTHENTICATED);
    expect(refused.headers["grpc-status"]).toBe(String(grpc.status.UNAUTHENTICATED));
    expect(refused.body.length).toBe(0);
    // A streamed call on a free node: "accepted" and "routed" are raised in the same turn, so they
    // leave together, with the response headers.
    const streamed = await rawCall(envelope(streamRequest()), {}, STREAM_PATH);
    expect(streamed.status).toBe(grpc.status.OK);
    const messagesIn = (chunk: Buffer) => {
      let n = 0;
      for (let at = 0; at + 5 <= chunk.length; at += 5 + chunk.readUInt32BE(at + 1)) n++;
      return n;
    };
    const events = frames(streamed.body).map(
      (m) => fromBinary(StreamChatCompletionResponseSchema, m).event.case,
    );
    expect(events[0]).toBe("accepted");
    expect(events[1]).toBe("routed");
    expect(events.at(-1)).toBe("done");
    expect(messagesIn(streamed.chunks[0] as Buffer)).toBeGreaterThanOrEqual(2);
  });

  it("a payload that is not the message answers INVALID_ARGUMENT", async () => {
    const r = await rawCall(envelope(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff])));
    expect(r.status).toBe(grpc.status.INVALID_ARGUMENT);
    expect(r.message).toMatch(/parse binary/);
  });

  it("a frame whose length disagrees with the body, two messages, or none: INVALID_ARGUMENT", async () => {
    const one = envelope(chatRequest());
    const truncated = one.subarray(0, one.length - 3);
    for (const body of [truncated, Buffer.concat([one, one]), Buffer.alloc(0)]) {
      const r = await rawCall(body);
      expect(r.status).toBe(grpc.status.INVALID_ARGUMENT);
      expect(r.message.length).toBeGreaterThan(5);
    }
  });

  it("the compressed flag without a grpc-encoding answers INTERNAL (as the gRPC spec asks)", async () => {
    const r = await rawCall(envelope(chatRequest(), 1));
    expect(r.status).toBe(grpc.status.INTERNAL);
  });

  it("a malformed grpc-timeout answers INVALID_ARGUMENT; a valid one is honoured", async () => {
    const bad = await rawCall(envelope(chatRequest()), { "grpc-timeout": "soon" });
    expect(bad.status).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad.message).toMatch(/grpc-timeout/);
    const ok = await rawCall(envelope(chatRequest()), { "grpc-timeout": "30S" });
    expect(ok.status).toBe(grpc.status.OK);
  });

  it("a message over the read limit answers RESOURCE_EXHAUSTED from the frame header alone", async () => {
    const head = Buffer.alloc(5);
    head.writeUInt32BE(512 * 1024 * 1024, 1); // claims 512 MiB, sends none of it
    const r = await rawCall(head);
    expect(r.status).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  it("no API key answers UNAUTHENTICATED", async () => {
    const r = await rawCall(envelope(chatRequest()), { authorization: "" });
    expect(r.status).toBe(grpc.status.UNAUTHENTICATED);
  });

  it("a gzip-compressed call is left to Connect, which serves it", async () => {
    const gz = new grpc.Client(new URL(c.url).host, grpc.credentials.createInsecure(), {
      "grpc.default_compression_algorithm": grpc.compressionAlgorithms.gzip,
    });
    try {
      const md = new grpc.Metadata();
      md.set("authorization", `Bearer ${c.apiKey}`);
      const reply = await new Promise<unknown>((resolve, reject) =>
        gz.makeUnaryRequest(
          PATH,
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from(chatRequest()),
          md,
          (err, res) => (err ? reject(err) : resolve(res)),
        ),
      );
      const decoded = fromBinary(CreateChatCompletionResponseSchema, reply as Buffer);
      expect(decoded.message?.content.length).toBeGreaterThan(0);
    } finally {
      gz.close();
    }
  });

  it("keeps serving after all of that", async () => {
    const r = await rawCall(envelope(chatRequest()));
    expect(r.status).toBe(grpc.status.OK);
    const reply = fromBinary(CreateChatCompletionResponseSchema, r.body.subarray(5));
    expect(reply.message?.content.length).toBeGreaterThan(0);
    expect(reply.nodeId).toBe("n-a");
  });
});
