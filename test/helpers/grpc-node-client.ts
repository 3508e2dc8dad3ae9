import {
  create,
  type DescMessage,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  type ControlMessage,
  ControlMessageSchema,
  EngineKind,
  NodeMessageSchema,
} from "../../src/gen/llmlb/v1/node_pb.js";

/** Serializer pair for a protobuf-es message, as grpc-js wants it. */
export function codec<D extends DescMessage>(schema: D) {
  return {
    serialize: (m: MessageShape<D>) => Buffer.from(toBinary(schema, m)),
    deserialize: (b: Buffer) => fromBinary(schema, b),
  };
}

/** A stock @grpc/grpc-js client for NodeService.Connect, speaking raw bytes so tests can also send garbage. */
export function nodeStream(url: string, token: string | undefined) {
  const Client = grpc.makeGenericClientConstructor(
    {
      connect: {
        path: "/llmlb.v1.NodeService/Connect",
        requestStream: true,
        responseStream: true,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      },
    },
    "NodeService",
  );
  const client = new Client(new URL(url).host, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  if (token) md.set("authorization", `Bearer ${token}`);
  const call = (
    client as unknown as { connect(md: grpc.Metadata): grpc.ClientDuplexStream<Buffer, Buffer> }
  ).connect(md);
  const received: ControlMessage[] = [];
  const waiters: (() => void)[] = [];
  let seq = 0n;
  const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
  call.on("data", (b: Buffer) => {
    received.push(fromBinary(ControlMessageSchema, b));
    for (const w of waiters.splice(0)) w();
  });
  call.on("error", () => {});
  return {
    call,
    received,
    status,
    /** Sends a NodeMessage (seq filled in). */
    send(msg: MessageInitShape<typeof NodeMessageSchema>["msg"]) {
      seq++;
      call.write(
        Buffer.from(
          toBinary(
            NodeMessageSchema,
            create(NodeMessageSchema, { seq, msg } as MessageInitShape<typeof NodeMessageSchema>),
          ),
        ),
      );
    },
    raw(bytes: Buffer) {
      call.write(bytes);
    },
    /** Waits for a control message matching pred. */
    async next(pred: (m: ControlMessage) => boolean, timeoutMs = 10_000): Promise<ControlMessage> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = received.find(pred);
        if (found) return found;
        if (Date.now() > deadline) throw new Error("timed out waiting for a control message");
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
    },
    close() {
      call.cancel();
      client.close();
    },
  };
}

/** A minimal valid Register for a fake node. */
export function registerFor(nodeId: string, model: string, slots = 4) {
  return {
    case: "register" as const,
    value: {
      nodeId,
      hostname: "test",
      agentVersion: "test",
      engineKind: EngineKind.OPENAI,
      models: [{ id: model }],
      maxConcurrentJobs: slots,
    },
  };
}
