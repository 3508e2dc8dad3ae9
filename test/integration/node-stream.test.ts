import * as grpc from "@grpc/grpc-js";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobErrorKind } from "../../src/gen/llmlb/v1/node_pb.js";
import { type Cluster, startCluster } from "../helpers/cluster.js";
import { nodeStream, registerFor } from "../helpers/grpc-node-client.js";

let c: Cluster;

beforeAll(async () => {
  c = await startCluster({
    nodes: [{ id: "real-1", profile: "rtx4090", model: "llama-3.1-8b", seed: 1 }],
    timeScale: 20,
    // Slow heartbeats (3 missed = 6 s) prove that a broken stream, not a timeout, marks a node offline.
    heartbeatSecs: 2,
  });
}, 60_000);

afterAll(async () => {
  await c?.stop();
});

/** A real request still works: faults on other streams never disturb healthy nodes. */
async function realNodeStillServes() {
  const r = await c.openai.chat.completions.create({
    model: "llama-3.1-8b",
    messages: [{ role: "user", content: "x" }],
    max_tokens: 4,
  });
  expect(r.choices[0]?.message.content?.length).toBeGreaterThan(0);
  expect(c.cp.nodes.get("real-1")?.state).toBe("online");
}

describe("node stream faults (stock @grpc/grpc-js client)", () => {
  it("refuses a stream without a valid node token", async () => {
    const s = nodeStream(c.url, "nt-wrong");
    s.send(registerFor("intruder", "llama-3.1-8b"));
    expect((await s.status).code).toBe(grpc.status.UNAUTHENTICATED);
    s.close();
    expect(c.cp.nodes.get("intruder")).toBeUndefined();
  });

  it("ends a stream whose first message is not Register", async () => {
    const s = nodeStream(c.url, c.nodeToken);
    s.send({ case: "heartbeat", value: { sequence: 1n } });
    const st = await s.status;
    expect(st.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(st.details).toContain("before Register");
    s.close();
    await realNodeStillServes();
  });

  it("ends a stream that sends garbage bytes", async () => {
    const s = nodeStream(c.url, c.nodeToken);
    s.raw(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]));
    const st = await s.status;
    expect(st.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(st.details).toMatch(/parse binary/);
    s.close();
    await realNodeStillServes();
  });

  it("ends a stream that sends a message over the size limit", async () => {
    const s = nodeStream(c.url, c.nodeToken);
    s.send(registerFor("big-1", "llama-3.1-8b"));
    s.raw(Buffer.alloc(4 * 1024 * 1024 + 1)); // the default LLMLB_BODY_LIMIT_BYTES, plus one
    const st = await s.status;
    expect(st.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(st.details).toMatch(/larger than the limit/);
    s.close();
    // The node it registered is gone with its stream; the real one keeps serving.
    await expect.poll(() => c.cp.nodes.get("big-1")?.state ?? "gone").not.toBe("online");
    await realNodeStillServes();
  });

  it("rejects an invalid Register with a clear message", async () => {
    const s = nodeStream(c.url, c.nodeToken);
    s.send({ case: "register", value: { nodeId: "../../etc/passwd", engineKind: 1, maxConcurrentJobs: 1 } });
    const st = await s.status;
    expect(st.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(st.details).toContain("node_id");
    s.close();
  });

  it("refuses a duplicate node id while the first is connected", async () => {
    const s = nodeStream(c.url, c.nodeToken);
    s.send(registerFor("real-1", "llama-3.1-8b"));
    const st = await s.status;
    expect(st.code).toBe(grpc.status.ALREADY_EXISTS);
    s.close();
    await realNodeStillServes();
  });

  it("ends a stream that sends a chunk for a job it does not own", async () => {
    const s = nodeStream(c.url, c.nodeToken);
    s.send(registerFor("fake-foreign", "other-model"));
    await s.next((m) => m.msg.case === "registerAck");
    s.send({ case: "chunk", value: { jobId: "not-yours", textDelta: "hi", done: true } });
    const st = await s.status;
    expect(st.code).toBe(grpc.status.PERMISSION_DENIED);
    s.close();
    await c.waitFor(() => c.cp.nodes.get("fake-foreign")?.state === "offline", 5_000, "fake node offline");
    await realNodeStillServes();
  });

  it("lets a protocol-correct node written with a stock client serve a request end to end", async () => {
    const s = nodeStream(c.url, c.nodeToken);
    s.send(registerFor("fake-ok", "fake-model"));
    await s.next((m) => m.msg.case === "registerAck");
    const pending = c.openai.chat.completions.create({
      model: "fake-model",
      messages: [{ role: "user", content: "hi" }],
    });
    const job = await s.next((m) => m.msg.case === "job");
    if (job.msg.case !== "job") throw new Error("unreachable");
    const jobId = job.msg.value.jobId;
    expect(JSON.parse(new TextDecoder().decode(job.msg.value.requestJson)).messages[0].content).toBe("hi");
    s.send({ case: "chunk", value: { jobId, index: 0, textDelta: "Hello" } });
    s.send({ case: "chunk", value: { jobId, index: 1, textDelta: " world", finishReason: "stop" } });
    s.send({
      case: "chunk",
      value: { jobId, index: 2, done: true, usage: { promptTokens: 3, completionTokens: 2 } },
    });
    const r = await pending;
    expect(r.choices[0]?.message.content).toBe("Hello world");
    expect(r.usage?.total_tokens).toBe(5);
    s.close();
  });

  it("passes an engine's 4xx through as a client error, not a retry", async () => {
    const s = nodeStream(c.url, c.nodeToken);
    s.send(registerFor("fake-4xx", "fake-4xx-model"));
    await s.next((m) => m.msg.case === "registerAck");
    const pending = c.openai.chat.completions.create({
      model: "fake-4xx-model",
      messages: [{ role: "user", content: "hi" }],
    });
    const job = await s.next((m) => m.msg.case === "job");
    if (job.msg.case !== "job") throw new Error("unreachable");
    s.send({
      case: "chunk",
      value: {
        jobId: job.msg.value.jobId,
        error: { kind: JobErrorKind.BAD_REQUEST, message: "context too long", httpStatus: 400 },
        done: true,
      },
    });
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as Error).message).toContain("context too long");
    s.close();
  });
});

describe("failover when a node is lost", () => {
  it("re-runs a job elsewhere when its node dies before the first token", async () => {
    // Only the fake node serves the model at first, so the job lands there and waits.
    const fake = nodeStream(c.url, c.nodeToken);
    fake.send(registerFor("fake-dies", "llama-3.1-8b", 8));
    await fake.next((m) => m.msg.case === "registerAck");
    c.cp.sessions.get("real-1")?.drain("test");
    await c.waitFor(() => c.cp.nodes.get("real-1")?.state === "draining", 5_000, "real-1 draining");
    const pending = c.openai.chat.completions
      .create(
        { model: "llama-3.1-8b", messages: [{ role: "user", content: "retry me" }], max_tokens: 5 },
        { stream: false },
      )
      .withResponse();
    await fake.next((m) => m.msg.case === "job");
    // Bring the real node back (a restarted agent resumes its identity), then kill the fake node's stream.
    c.cp.sessions.get("real-1")?.close(undefined, "test restart");
    c.fleet.nodes[0]?.agent.kill("SIGKILL");
    c.fleet.restartAgent("real-1");
    await c.waitOnline(["real-1"]);
    fake.close();
    const { data, response } = await pending;
    expect(data.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(response.headers.get("x-llmlb-node")).toBe("real-1");
    expect(c.cp.nodes.get("fake-dies")?.state).toBe("offline");
  });

  it("ends a started stream with a clean SSE error when its node dies mid-stream", async () => {
    const fake = nodeStream(c.url, c.nodeToken);
    fake.send(registerFor("fake-midstream", "mid-model"));
    await fake.next((m) => m.msg.case === "registerAck");
    const stream = await (async () => {
      const p = c.openai.chat.completions.create({
        model: "mid-model",
        messages: [{ role: "user", content: "x" }],
        stream: true,
      });
      const job = await fake.next((m) => m.msg.case === "job");
      if (job.msg.case !== "job") throw new Error("unreachable");
      fake.send({ case: "chunk", value: { jobId: job.msg.value.jobId, index: 0, textDelta: "partial" } });
      return p;
    })();
    let text = "";
    const consumed = (async () => {
      for await (const ch of stream) {
        text += ch.choices[0]?.delta.content ?? "";
        if (text === "partial") fake.close();
      }
    })();
    await expect(consumed).rejects.toThrow(/lost mid-stream/);
    expect(text).toBe("partial");
  });

  it("marks a SIGKILLed agent offline at once, without waiting for heartbeats", async () => {
    const node = c.fleet.nodes[0];
    if (!node) throw new Error("no node");
    const killedAt = Date.now();
    node.agent.kill("SIGKILL");
    await c.waitFor(() => c.cp.nodes.get("real-1")?.state === "offline", 5_000, "offline after SIGKILL");
    // Heartbeats are every 2 s here; 3 missed would take 6 s. A stream break is seen at once.
    expect(Date.now() - killedAt).toBeLessThan(3_000);
    const r = await fetch(`${c.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${c.apiKey}` },
      body: JSON.stringify({ model: "llama-3.1-8b", messages: [{ role: "user", content: "x" }] }),
    });
    expect(r.status).toBe(503);
    expect(r.headers.get("retry-after")).toBeTruthy();
    c.fleet.restartAgent("real-1");
    await c.waitOnline(["real-1"]);
    await realNodeStillServes();
  });
});
