import { execFile } from "node:child_process";
import type { EventEmitter } from "node:events";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Health,
  HealthCheckResponse_ServingStatus as Serving,
} from "../../src/gen/grpc/health/v1/health_pb.js";
import {
  ServerReflection,
  type ServerReflectionResponse,
} from "../../src/gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1Alpha } from "../../src/gen/grpc/reflection/v1alpha/reflection_pb.js";
import {
  ChatRole,
  DispatchService,
  FinishReason,
  NodeEventType,
  NodeState,
  type StreamChatCompletionResponse,
  type WatchNodesResponse,
} from "../../src/gen/llmlb/v1/dispatch_pb.js";
import { type Cluster, simState, startCluster } from "../helpers/cluster.js";
import { collect, connectClients, grpcJsClient } from "../helpers/dispatch-clients.js";

const run = promisify(execFile);
const M = DispatchService.method;
const BIG = "llama-3.1-8b";
const SMALL = "llama-3.2-1b";
// Small enough that the oversized-message case is cheap to send.
const BODY_LIMIT = 64 * 1024;

let c: Cluster;
let g: ReturnType<typeof grpcJsClient>;
let cc: ReturnType<typeof connectClients>;

const chat = (model: string, content: string, maxTokens = 12) => ({
  model,
  messages: [{ role: ChatRole.USER, content }],
  sampling: { maxTokens },
});
// Long enough (~20 s of simulated decode) that only a cancellation ends it within the test.
const longChat = (model: string) => ({
  ...chat(model, "Write a long story"),
  sampling: { maxTokens: 20_000, ignoreEos: true },
});

/** The gRPC error a grpc-js call failed with. */
async function grpcError(p: Promise<unknown>): Promise<ServiceError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e as ServiceError,
  );
  if (!err) throw new Error("the call succeeded; expected an error");
  return err;
}

/** Waits until a server-stream has delivered a message matching pred. */
function nextMessage<T>(
  call: NodeJS.EventEmitter,
  seen: T[],
  pred: (m: T) => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const found = seen.find(pred);
    if (found) return resolve(found);
    const t = setTimeout(() => {
      call.off("data", onData);
      reject(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    const onData = (m: T) => {
      if (!pred(m)) return;
      clearTimeout(t);
      call.off("data", onData);
      resolve(m);
    };
    call.on("data", onData);
  });
}

const storeListeners = () =>
  (c.cp.nodes as unknown as { events: EventEmitter }).events.listenerCount("event");
const running = async (i: number) => (await simState(c.fleet.nodes[i]?.simUrl ?? "")).running;

async function waitUntil(
  cond: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(async () => {
  c = await startCluster({
    nodes: [
      { id: "n-a", profile: "rtx4090", model: BIG, seed: 1 },
      // One slot, so a second request on this model waits in the fair queue.
      { id: "n-b", profile: "rtx3080", model: SMALL, seed: 2, maxConcurrency: 1 },
    ],
    timeScale: 20,
    flags: { bodyLimitBytes: BODY_LIMIT },
  });
  g = grpcJsClient(c.url, c.apiKey);
  cc = connectClients(c.url, c.apiKey);
}, 60_000);

afterAll(async () => {
  g?.close();
  await c?.stop();
});

describe("DispatchService through a stock @grpc/grpc-js client", () => {
  it("CreateChatCompletion answers with the reply, usage, job id, node and route reason", async () => {
    const r = await g.unary(M.createChatCompletion, chat(BIG, "Hello there"));
    expect(r.jobId).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.model).toBe(BIG);
    expect(r.message?.role).toBe(ChatRole.ASSISTANT);
    expect(r.message?.content.length).toBeGreaterThan(0);
    expect([FinishReason.STOP, FinishReason.LENGTH]).toContain(r.finishReason);
    expect(r.usage?.promptTokens).toBeGreaterThan(0);
    expect(r.usage?.completionTokens).toBeGreaterThan(0);
    expect(r.usage?.completionTokens).toBeLessThanOrEqual(12);
    expect(r.usage?.totalTokens).toBe((r.usage?.promptTokens ?? 0) + (r.usage?.completionTokens ?? 0));
    expect(r.nodeId).toBe("n-a");
    expect(r.routeReason).toMatch(/\w+/);
    expect(r.attempts).toBe(1);
  });

  it("StreamChatCompletion sends accepted (with the job id), routed, deltas, then done", async () => {
    const { messages, status } = await collect(
      g.stream(M.streamChatCompletion, chat(SMALL, "Stream please", 20)),
    );
    expect(status.code).toBe(GrpcStatus.OK);
    const kinds = messages.map((m) => m.event.case);
    expect(kinds[0]).toBe("accepted");
    expect(kinds[1]).toBe("routed");
    expect(kinds.at(-1)).toBe("done");
    expect(kinds.filter((k) => k === "delta").length).toBeGreaterThan(0);
    const jobId = messages[0]?.jobId;
    expect(jobId).toMatch(/^[0-9a-f-]{36}$/);
    expect(messages.every((m) => m.jobId === jobId)).toBe(true);
    const deltas = messages.flatMap((m) => (m.event.case === "delta" ? [m.event.value] : []));
    expect(deltas[0]?.role).toBe(ChatRole.ASSISTANT);
    expect(deltas.map((d) => d.content).join("").length).toBeGreaterThan(0);
    const done = messages.at(-1)?.event;
    if (done?.case !== "done") throw new Error("no done message");
    expect(done.value.nodeId).toBe("n-b");
    expect(done.value.usage?.completionTokens).toBeGreaterThan(0);
    expect([FinishReason.STOP, FinishReason.LENGTH]).toContain(done.value.finishReason);
  });

  it("CreateCompletion runs a legacy completion", async () => {
    const r = await g.unary(M.createCompletion, {
      model: BIG,
      prompt: "Once upon a time",
      sampling: { maxTokens: 8, temperature: 0.7, topP: 0.9, stop: ["\n\n"], seed: 7n },
    });
    expect(r.text.length).toBeGreaterThan(0);
    expect(r.nodeId).toBe("n-a");
    expect(r.usage?.completionTokens).toBeLessThanOrEqual(8);
  });

  it("ListNodes and GetNode report the fleet with its figures", async () => {
    const all = await g.unary(M.listNodes, {});
    expect(all.nodes.map((n) => n.id)).toEqual(["n-a", "n-b"]);
    const a = all.nodes[0];
    expect(a?.state).toBe(NodeState.ONLINE);
    expect(a?.models).toEqual([BIG]);
    expect(a?.engineKind).toBe("sim");
    expect(a?.gpus[0]?.name).toContain("4090");
    expect(a?.totalRequests).toBeGreaterThan(0n);
    expect(all.nodes[1]?.maxConcurrency).toBe(1);
    const filtered = await g.unary(M.listNodes, { model: SMALL, state: NodeState.ONLINE });
    expect(filtered.nodes.map((n) => n.id)).toEqual(["n-b"]);
    const one = await g.unary(M.getNode, { nodeId: "n-b" });
    expect(one.node?.id).toBe("n-b");
    expect(one.node?.models).toEqual([SMALL]);
  });

  it("GetStrategy, SetStrategy (admin key) and GetQueue", async () => {
    const before = await g.unary(M.getStrategy, {});
    expect(before.available).toContain("least_connections");
    const set = await g.unary(M.setStrategy, { strategy: "least_connections" });
    expect(set).toMatchObject({ strategy: "least_connections", previous: before.strategy });
    expect(c.cp.strategies.current).toBe("least_connections");
    await g.unary(M.setStrategy, { strategy: before.strategy });
    const q = await g.unary(M.getQueue, {});
    expect(q).toMatchObject({ waiting: 0, policy: "round_robin" });
  });

  it("cancelling a streaming call cancels the job on its node", async () => {
    const cancelledBefore = (await simState(c.fleet.nodes[0]?.simUrl ?? "")).cancelled;
    const call = g.stream(M.streamChatCompletion, longChat(BIG));
    const seen: StreamChatCompletionResponse[] = [];
    call.on("data", (m: StreamChatCompletionResponse) => seen.push(m));
    call.on("error", () => {});
    await nextMessage<StreamChatCompletionResponse>(
      call,
      seen,
      (m) => m.event.case === "delta",
      "the first delta",
    );
    expect(await running(0)).toBe(1);
    call.cancel();
    await waitUntil(async () => (await running(0)) === 0, "the sim's running count to drop");
    expect((await simState(c.fleet.nodes[0]?.simUrl ?? "")).cancelled).toBe(cancelledBefore + 1);
    await waitUntil(() => c.cp.scheduler.activeJobs === 0, "the job to leave the scheduler");
  });

  it("a gRPC deadline ends the call with DEADLINE_EXCEEDED and stops the job", async () => {
    const err = await grpcError(g.unary(M.createChatCompletion, longChat(BIG), { deadlineMs: 400 }));
    expect(err.code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    await waitUntil(async () => (await running(0)) === 0, "the sim's running count to drop");
    const viaField = await grpcError(g.unary(M.createChatCompletion, { ...longChat(BIG), timeoutMs: 300 }));
    expect(viaField.code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    expect(viaField.details).toMatch(/deadline/i);
    await waitUntil(async () => (await running(0)) === 0, "the sim's running count to drop");
  });

  it("on_behalf_of_user (admin key) picks the fair-queue user; CancelJob cancels a queued job", async () => {
    // Fill n-b's only slot, then queue a second request for another user.
    const first = g.stream(M.streamChatCompletion, longChat(SMALL));
    const firstSeen: StreamChatCompletionResponse[] = [];
    first.on("data", (m: StreamChatCompletionResponse) => firstSeen.push(m));
    first.on("error", () => {});
    await nextMessage<StreamChatCompletionResponse>(
      first,
      firstSeen,
      (m) => m.event.case === "delta",
      "the first job's first delta",
    );

    const second = g.stream(M.streamChatCompletion, { ...chat(SMALL, "Me next"), onBehalfOfUser: "alice" });
    const secondDone = collect(second);
    const secondSeen: StreamChatCompletionResponse[] = [];
    second.on("data", (m: StreamChatCompletionResponse) => secondSeen.push(m));
    const accepted = await nextMessage<StreamChatCompletionResponse>(
      second,
      secondSeen,
      (m) => m.event.case === "accepted",
      "accepted",
    );
    expect(accepted.event.case === "accepted" && accepted.event.value.queued).toBe(true);

    const q = await g.unary(M.getQueue, {});
    expect(q.waiting).toBe(1);
    expect(q.running).toBeGreaterThanOrEqual(1);
    expect(q.users).toHaveLength(1);
    expect(q.users[0]).toMatchObject({ userId: "alice", depth: 1, byModel: { [SMALL]: 1 } });
    // A non-admin key sees the totals, not other users' rows.
    const qInference = await g.unary(M.getQueue, {}, { key: c.inferenceKey });
    expect(qInference.waiting).toBe(1);
    expect(qInference.users).toHaveLength(0);

    // Only the job's owner or an admin may cancel it; others see NOT_FOUND.
    const denied = await grpcError(g.unary(M.cancelJob, { jobId: accepted.jobId }, { key: c.inferenceKey }));
    expect(denied.code).toBe(GrpcStatus.NOT_FOUND);
    await g.unary(M.cancelJob, { jobId: accepted.jobId });
    const ended = await secondDone;
    expect(ended.status.code).toBe(GrpcStatus.CANCELLED);
    expect(ended.messages.some((m) => m.event.case === "delta")).toBe(false);

    // CancelJob on the running job stops it on its node too.
    const firstId = firstSeen[0]?.jobId ?? "";
    await g.unary(M.cancelJob, { jobId: firstId });
    await waitUntil(async () => (await running(1)) === 0, "n-b's running count to drop");
    const again = await grpcError(g.unary(M.cancelJob, { jobId: firstId }));
    expect(again.code).toBe(GrpcStatus.NOT_FOUND);
    await waitUntil(() => c.cp.scheduler.activeJobs === 0, "the jobs to leave the scheduler");
  });

  it("WatchNodes reports a snapshot, then an agent leaving and joining again, and unsubscribes when cancelled", async () => {
    const baseline = storeListeners();
    const call = g.stream(M.watchNodes, {});
    const seen: WatchNodesResponse[] = [];
    call.on("data", (m: WatchNodesResponse) => seen.push(m));
    call.on("error", () => {});
    const is = (type: NodeEventType, id: string) => (m: WatchNodesResponse) =>
      m.type === type && m.node?.id === id;
    await nextMessage(call, seen, is(NodeEventType.SNAPSHOT, "n-b"), "the snapshot");
    expect(seen.slice(0, 2).map((m) => [m.type, m.node?.id])).toEqual([
      [NodeEventType.SNAPSHOT, "n-a"],
      [NodeEventType.SNAPSHOT, "n-b"],
    ]);
    expect(storeListeners()).toBe(baseline + 1);
    await nextMessage(call, seen, is(NodeEventType.UPDATED, "n-a"), "a heartbeat update");

    c.fleet.nodes[0]?.agent.kill("SIGKILL");
    const left = await nextMessage(call, seen, is(NodeEventType.LEFT, "n-a"), "n-a leaving");
    expect(left.node?.state).toBe(NodeState.OFFLINE);
    c.fleet.restartAgent("n-a");
    const joined = await nextMessage(
      call,
      seen,
      is(NodeEventType.JOINED, "n-a"),
      "n-a joining again",
      20_000,
    );
    expect(joined.node?.state).toBe(NodeState.ONLINE);
    expect(joined.node?.models).toEqual([BIG]);

    call.cancel();
    await waitUntil(() => storeListeners() === baseline, "the watch to unsubscribe");
    await c.waitOnline();
  });
});

describe("DispatchService through the Connect client", () => {
  it("serves every RPC over gRPC (HTTP/2)", async () => {
    const d = cc.grpc;
    const r = await d.createChatCompletion(chat(BIG, "Hi from Connect"));
    expect(r.message?.content.length).toBeGreaterThan(0);
    expect(r.nodeId).toBe("n-a");
    const comp = await d.createCompletion({ model: SMALL, prompt: "Hello", sampling: { maxTokens: 4 } });
    expect(comp.nodeId).toBe("n-b");

    const kinds: string[] = [];
    for await (const m of d.streamChatCompletion(chat(SMALL, "Stream via Connect", 10)))
      kinds.push(m.event.case ?? "");
    expect(kinds[0]).toBe("accepted");
    expect(kinds.at(-1)).toBe("done");

    // Cancel a running stream by its job id from another call.
    const stream = d.streamChatCompletion(longChat(BIG));
    let cancelled: ConnectError | undefined;
    let asked = false;
    try {
      for await (const m of stream) {
        if (m.event.case === "delta" && !asked) {
          asked = true;
          await d.cancelJob({ jobId: m.jobId });
        }
      }
    } catch (e) {
      cancelled = ConnectError.from(e);
    }
    expect(cancelled?.code).toBe(Code.Canceled);
    await waitUntil(async () => (await running(0)) === 0, "the sim's running count to drop");

    expect((await d.listNodes({})).nodes).toHaveLength(2);
    expect((await d.getNode({ nodeId: "n-a" })).node?.state).toBe(NodeState.ONLINE);
    const baseline = storeListeners();
    const ac = new AbortController();
    const events: NodeEventType[] = [];
    try {
      for await (const ev of d.watchNodes({ model: SMALL }, { signal: ac.signal })) {
        events.push(ev.type);
        expect(ev.node?.id).toBe("n-b");
        if (events.length === 1) ac.abort();
      }
    } catch (e) {
      expect(ConnectError.from(e).code).toBe(Code.Canceled);
    }
    expect(events[0]).toBe(NodeEventType.SNAPSHOT);
    await waitUntil(() => storeListeners() === baseline, "the Connect watch to unsubscribe");

    const s = await d.getStrategy({});
    expect((await d.setStrategy({ strategy: "round_robin" })).previous).toBe(s.strategy);
    await d.setStrategy({ strategy: s.strategy });
    expect((await d.getQueue({})).waiting).toBe(0);
  });

  it("serves the Connect protocol and gRPC-Web over HTTP/1.1 on the same port", async () => {
    const viaConnect = await cc.connect.createChatCompletion(chat(BIG, "Connect protocol"));
    expect(viaConnect.nodeId).toBe("n-a");
    const viaWeb = await cc.grpcWeb.listNodes({});
    expect(viaWeb.nodes).toHaveLength(2);
    const kinds: string[] = [];
    for await (const m of cc.connect.streamChatCompletion(chat(SMALL, "Connect stream", 6)))
      kinds.push(m.event.case ?? "");
    expect(kinds.at(-1)).toBe("done");
    const err = await cc.connect.getNode({ nodeId: "nope" }).catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.NotFound);
  });
});

describe("bad input answers with the right code and a human message, and the server keeps serving", () => {
  const msgs = (content: string) => [{ role: ChatRole.USER, content }];
  const cases: { name: string; call: () => Promise<unknown>; code: GrpcStatus }[] = [
    {
      name: "missing model",
      call: () => g.unary(M.createChatCompletion, { messages: msgs("hi") }),
      code: GrpcStatus.INVALID_ARGUMENT,
    },
    {
      name: "no messages",
      call: () => g.unary(M.createChatCompletion, { model: BIG }),
      code: GrpcStatus.INVALID_ARGUMENT,
    },
    {
      name: "a message without a role",
      call: () => g.unary(M.createChatCompletion, { model: BIG, messages: [{ content: "hi" }] }),
      code: GrpcStatus.INVALID_ARGUMENT,
    },
    {
      name: "only empty messages",
      call: () => g.unary(M.createChatCompletion, { model: BIG, messages: msgs("") }),
      code: GrpcStatus.INVALID_ARGUMENT,
    },
    {
      name: "temperature out of range",
      call: () => g.unary(M.createChatCompletion, { ...chat(BIG, "hi"), sampling: { temperature: 5 } }),
      code: GrpcStatus.INVALID_ARGUMENT,
    },
    {
      name: "timeout_ms of 0",
      call: () => g.unary(M.createChatCompletion, { ...chat(BIG, "hi"), timeoutMs: 0 }),
      code: GrpcStatus.INVALID_ARGUMENT,
    },
    {
      name: "an unknown strategy",
      call: () => g.unary(M.createChatCompletion, { ...chat(BIG, "hi"), strategy: "fastest_please" }),
      code: GrpcStatus.INVALID_ARGUMENT,
    },
    {
      name: "an empty prompt",
      call: () => g.unary(M.createCompletion, { model: BIG }),
      code: GrpcStatus.INVALID_ARGUMENT,
    },
    {
      name: "an unknown model",
      call: () => g.unary(M.createChatCompletion, chat("no-such-model", "hi")),
      code: GrpcStatus.NOT_FOUND,
    },
    {
      name: "an unknown node",
      call: () => g.unary(M.getNode, { nodeId: "n-zzz" }),
      code: GrpcStatus.NOT_FOUND,
    },
    { name: "GetNode without an id", call: () => g.unary(M.getNode, {}), code: GrpcStatus.INVALID_ARGUMENT },
    {
      name: "an unknown job",
      call: () => g.unary(M.cancelJob, { jobId: "00000000-0000-0000-0000-000000000000" }),
      code: GrpcStatus.NOT_FOUND,
    },
    {
      name: "no API key",
      call: () => g.unary(M.listNodes, {}, { key: null }),
      code: GrpcStatus.UNAUTHENTICATED,
    },
    {
      name: "a wrong API key",
      call: () => g.unary(M.createChatCompletion, chat(BIG, "hi"), { key: "sk-wrong" }),
      code: GrpcStatus.UNAUTHENTICATED,
    },
    {
      name: "an inference key calling SetStrategy",
      call: () => g.unary(M.setStrategy, { strategy: "round_robin" }, { key: c.inferenceKey }),
      code: GrpcStatus.PERMISSION_DENIED,
    },
    {
      name: "on_behalf_of_user from an inference key",
      call: () =>
        g.unary(
          M.createChatCompletion,
          { ...chat(BIG, "hi"), onBehalfOfUser: "bob" },
          { key: c.inferenceKey },
        ),
      code: GrpcStatus.PERMISSION_DENIED,
    },
    {
      name: "a message over the read limit",
      call: () => g.unary(M.createChatCompletion, chat(BIG, "x".repeat(BODY_LIMIT + 1024))),
      code: GrpcStatus.RESOURCE_EXHAUSTED,
    },
    {
      name: "a bad stream request",
      call: async () => {
        const r = await collect(g.stream(M.streamChatCompletion, { model: BIG }));
        throw r.error;
      },
      code: GrpcStatus.INVALID_ARGUMENT,
    },
  ];

  it.each(cases)("$name", async ({ call, code }) => {
    const err = await grpcError(call());
    expect(GrpcStatus[err.code]).toBe(GrpcStatus[code]);
    expect(err.details.length).toBeGreaterThan(5);
    expect(err.details).not.toMatch(/\n\s+at /);
  });

  it("still serves after all of that", async () => {
    const r = await g.unary(M.createChatCompletion, chat(BIG, "Still there?"), { key: c.inferenceKey });
    expect(r.message?.content.length).toBeGreaterThan(0);
  });
});

describe("a Python grpcio client built from dispatch.proto alone", () => {
  it("calls ListNodes, CreateChatCompletion and StreamChatCompletion", async () => {
    const python = "/usr/bin/python3";
    const hint =
      "install the Debian packages: apt-get install -y python3-grpcio protobuf-compiler protobuf-compiler-grpc";
    if (!existsSync(python)) throw new Error(`${python} is missing; ${hint}`);
    await run(python, ["-c", "import grpc"]).catch(() => {
      throw new Error(`python3-grpcio is not installed for ${python}; ${hint}`);
    });
    const plugin = "/usr/bin/grpc_python_plugin";
    if (!existsSync(plugin)) throw new Error(`${plugin} is missing; ${hint}`);
    const out = mkdtempSync(join(tmpdir(), "llmlb-py-"));
    try {
      // Debian's protoc 3.21 (protobuf-compiler): older ones reject proto3 `optional`.
      const protoc = existsSync("/usr/bin/protoc") ? "/usr/bin/protoc" : "protoc";
      await run(protoc, [
        "-I",
        "proto",
        `--python_out=${out}`,
        `--grpc_python_out=${out}`,
        `--plugin=protoc-gen-grpc_python=${plugin}`,
        "proto/llmlb/v1/dispatch.proto",
      ]).catch((e: Error) => {
        throw new Error(`protoc failed (${e.message}); ${hint}`);
      });
      const { stdout } = await run(
        python,
        ["test/python/dispatch_client.py", out, new URL(c.url).host, c.inferenceKey, SMALL],
        { timeout: 60_000 },
      );
      const r = JSON.parse(stdout) as {
        nodes: { id: string; state: string; models: string[] }[];
        chat: {
          job_id: string;
          content: string;
          role: string;
          finish_reason: string;
          completion_tokens: number;
          node_id: string;
          route_reason: string;
        };
        stream: { events: string[]; text: string; finish_reason: string | null; node_id: string | null };
        unknown_model: string;
      };
      expect(r.nodes.map((n) => n.id)).toEqual(["n-a", "n-b"]);
      expect(r.nodes[1]).toMatchObject({ state: "NODE_STATE_ONLINE", models: [SMALL] });
      expect(r.chat).toMatchObject({ role: "CHAT_ROLE_ASSISTANT", node_id: "n-b" });
      expect(r.chat.content.length).toBeGreaterThan(0);
      expect(r.chat.completion_tokens).toBeGreaterThan(0);
      expect(r.chat.route_reason).toMatch(/\w+/);
      expect(["FINISH_REASON_STOP", "FINISH_REASON_LENGTH"]).toContain(r.chat.finish_reason);
      expect(r.stream.events[0]).toBe("accepted");
      expect(r.stream.events).toContain("delta");
      expect(r.stream.events.at(-1)).toBe("done");
      expect(r.stream.text.length).toBeGreaterThan(0);
      expect(r.stream.node_id).toBe("n-b");
      expect(r.unknown_model).toBe("NOT_FOUND");
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("gRPC health and server reflection", () => {
  it("Health.Check answers SERVING for the server and its services, NOT_FOUND for others", async () => {
    const h = grpcJsClient(c.url, null);
    try {
      expect((await h.unary(Health.method.check, {})).status).toBe(Serving.SERVING);
      expect((await h.unary(Health.method.check, { service: "llmlb.v1.DispatchService" })).status).toBe(
        Serving.SERVING,
      );
      expect((await h.unary(Health.method.check, { service: "llmlb.v1.NodeService" })).status).toBe(
        Serving.SERVING,
      );
      const err = await grpcError(h.unary(Health.method.check, { service: "no.such.Service" }));
      expect(err.code).toBe(GrpcStatus.NOT_FOUND);
      const list = await h.unary(Health.method.list, {});
      expect(Object.keys(list.statuses)).toEqual(
        expect.arrayContaining(["", "llmlb.v1.DispatchService", "grpc.health.v1.Health"]),
      );
    } finally {
      h.close();
    }
  });

  it("reflection (v1 and v1alpha) lists services and returns file descriptors by symbol and file name", async () => {
    for (const svc of [ServerReflection, ServerReflectionV1Alpha]) {
      const call = g.bidi(
        svc.method.serverReflectionInfo as typeof ServerReflection.method.serverReflectionInfo,
        { key: null },
      );
      const answers: ServerReflectionResponse[] = [];
      const done = new Promise<void>((resolve, reject) => {
        call.on("data", (m: ServerReflectionResponse) => answers.push(m));
        call.on("error", reject);
        call.on("end", () => resolve());
      });
      call.write({ messageRequest: { case: "listServices", value: "" } });
      call.write({ messageRequest: { case: "fileContainingSymbol", value: "llmlb.v1.DispatchService" } });
      call.write({
        messageRequest: {
          case: "fileContainingSymbol",
          value: "llmlb.v1.DispatchService.StreamChatCompletion",
        },
      });
      call.write({ messageRequest: { case: "fileContainingSymbol", value: "llmlb.v1.Node.Gpu" } });
      call.write({ messageRequest: { case: "fileByFilename", value: "grpc/health/v1/health.proto" } });
      call.write({ messageRequest: { case: "fileContainingSymbol", value: "llmlb.v1.NoSuchThing" } });
      call.end();
      await done;
      const [list, bySymbol, byMethod, byNested, byFile, missing] = answers;
      if (list?.messageResponse.case !== "listServicesResponse") throw new Error("no list_services answer");
      expect(list.messageResponse.value.service.map((s) => s.name)).toEqual(
        expect.arrayContaining([
          "llmlb.v1.DispatchService",
          "llmlb.v1.NodeService",
          "grpc.health.v1.Health",
          "grpc.reflection.v1.ServerReflection",
        ]),
      );
      for (const a of [bySymbol, byMethod, byNested]) {
        if (a?.messageResponse.case !== "fileDescriptorResponse")
          throw new Error("no file descriptor answer");
        const fd = fromBinary(
          FileDescriptorProtoSchema,
          a.messageResponse.value.fileDescriptorProto[0] ?? new Uint8Array(),
        );
        expect(fd.name).toBe("llmlb/v1/dispatch.proto");
        expect(fd.service[0]?.name).toBe("DispatchService");
        expect(fd.service[0]?.method.map((m) => m.name)).toContain("WatchNodes");
      }
      if (byFile?.messageResponse.case !== "fileDescriptorResponse")
        throw new Error("no file_by_filename answer");
      expect(
        fromBinary(
          FileDescriptorProtoSchema,
          byFile.messageResponse.value.fileDescriptorProto[0] ?? new Uint8Array(),
        ).package,
      ).toBe("grpc.health.v1");
      expect(missing?.messageResponse.case).toBe("errorResponse");
      expect(missing?.messageResponse.value).toMatchObject({ errorCode: GrpcStatus.NOT_FOUND });
    }
  });

  // Last: it shuts the control plane down.
  it("Health.Watch turns NOT_SERVING and open watches end cleanly when the control plane shuts down", async () => {
    const h = grpcJsClient(c.url, null);
    const healthWatch = h.stream(Health.method.watch, {});
    const health = collect(healthWatch);
    const nodeWatch = collect(g.stream(M.watchNodes, {}));
    await new Promise<void>((resolve) => healthWatch.once("data", () => resolve()));
    await c.cp.close();
    const hw = await health;
    expect(hw.messages.map((m) => m.status)).toEqual([Serving.SERVING, Serving.NOT_SERVING]);
    expect(hw.status.code).toBe(GrpcStatus.OK);
    const nw = await nodeWatch;
    expect(nw.status.code).toBe(GrpcStatus.OK);
    expect(nw.messages.filter((m) => m.type === NodeEventType.SNAPSHOT)).toHaveLength(2);
    h.close();
  });
});
