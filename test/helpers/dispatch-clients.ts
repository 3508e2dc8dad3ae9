import {
  create,
  type DescMessage,
  type DescMethodBiDiStreaming,
  type DescMethodServerStreaming,
  type DescMethodUnary,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { DispatchService } from "../../src/gen/llmlb/v1/dispatch_pb.js";

/** Options of one grpc-js call. */
export interface GrpcCallOptions {
  /** API key sent as `authorization: Bearer`; null sends no credentials. */
  key?: string | null;
  deadlineMs?: number;
}

function pathOf(m: { parent: { typeName: string }; name: string }): string {
  return `/${m.parent.typeName}/${m.name}`;
}

function serializer<D extends DescMessage>(schema: D) {
  return (m: MessageInitShape<D>) => Buffer.from(toBinary(schema, create(schema, m)));
}

function deserializer<D extends DescMessage>(schema: D) {
  return (b: Buffer) => fromBinary(schema, b);
}

/**
 * A stock @grpc/grpc-js client for any service described by protobuf-es descriptors: the method
 * path and binary codecs are all grpc-js needs, no proto-loader.
 */
export function grpcJsClient(url: string, defaultKey: string | null) {
  const client = new grpc.Client(new URL(url).host, grpc.credentials.createInsecure());
  const meta = (o: GrpcCallOptions) => {
    const md = new grpc.Metadata();
    const key = o.key === undefined ? defaultKey : o.key;
    if (key) md.set("authorization", `Bearer ${key}`);
    return md;
  };
  const callOpts = (o: GrpcCallOptions): grpc.CallOptions =>
    o.deadlineMs !== undefined ? { deadline: Date.now() + o.deadlineMs } : {};
  return {
    client,
    unary<I extends DescMessage, O extends DescMessage>(
      m: DescMethodUnary<I, O>,
      req: MessageInitShape<I>,
      o: GrpcCallOptions = {},
    ): Promise<MessageShape<O>> {
      return new Promise((resolve, reject) => {
        client.makeUnaryRequest(
          pathOf(m),
          serializer(m.input),
          deserializer(m.output),
          req,
          meta(o),
          callOpts(o),
          (err, res) => (err || !res ? reject(err) : resolve(res)),
        );
      });
    },
    stream<I extends DescMessage, O extends DescMessage>(
      m: DescMethodServerStreaming<I, O>,
      req: MessageInitShape<I>,
      o: GrpcCallOptions = {},
    ): grpc.ClientReadableStream<MessageShape<O>> {
      return client.makeServerStreamRequest(
        pathOf(m),
        serializer(m.input),
        deserializer(m.output),
        req,
        meta(o),
        callOpts(o),
      );
    },
    bidi<I extends DescMessage, O extends DescMessage>(
      m: DescMethodBiDiStreaming<I, O>,
      o: GrpcCallOptions = {},
    ) {
      return client.makeBidiStreamRequest(
        pathOf(m),
        serializer(m.input),
        deserializer(m.output),
        meta(o),
        callOpts(o),
      );
    },
    close: () => client.close(),
  };
}

/** Collects a grpc-js server stream: every message, then the status (errors included). */
export function collect<T>(
  call: grpc.ClientReadableStream<T>,
): Promise<{ messages: T[]; status: grpc.StatusObject; error?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    const messages: T[] = [];
    let error: grpc.ServiceError | undefined;
    call.on("data", (m: T) => messages.push(m));
    call.on("error", (e: grpc.ServiceError) => {
      error = e;
    });
    call.on("status", (status: grpc.StatusObject) => {
      // 'status' can come before the last 'error' event; let the event loop settle first.
      setImmediate(() => resolve({ messages, status, ...(error ? { error } : {}) }));
    });
  });
}

/** Connect-es clients of DispatchService over the three protocols connect-fastify serves. */
export function connectClients(
  url: string,
  key: string,
): Record<"grpc" | "connect" | "grpcWeb", Client<typeof DispatchService>> {
  // Every call carries the key, as a service account's client would.
  const interceptors: Interceptor[] = [
    (next) => async (req) => {
      req.header.set("authorization", `Bearer ${key}`);
      return next(req);
    },
  ];
  return {
    grpc: createClient(DispatchService, createGrpcTransport({ baseUrl: url, interceptors })),
    connect: createClient(
      DispatchService,
      createConnectTransport({ baseUrl: url, httpVersion: "1.1", interceptors }),
    ),
    grpcWeb: createClient(
      DispatchService,
      createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1", interceptors }),
    ),
  };
}
