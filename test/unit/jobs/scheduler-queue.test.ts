import { create } from "@bufbuild/protobuf";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { JobChunkSchema, JobErrorKind } from "../../../src/gen/llmlb/v1/node_pb.js";
import type { Job, JobSink } from "../../../src/jobs/job.js";
import { buildJobSpec } from "../../../src/jobs/job-spec.js";
import { type NodeLink, Scheduler } from "../../../src/jobs/scheduler.js";
import { StrategyBook } from "../../../src/jobs/strategy-book.js";
import { createMetrics } from "../../../src/metrics/metrics.js";
import { NodeStore } from "../../../src/nodes/node-store.js";
import { createFairQueue } from "../../../src/queue/index.js";

// The scheduler on real value objects; the only stand-in is the node stream, which records what
// would have gone down the wire.
function setup(nodeIds: string[]) {
  const nodes = new NodeStore({ staleMs: 60_000, offlineGraceMs: 60_000 });
  const metrics = createMetrics(nodes);
  const strategies = new StrategyBook("least_connections", {
    gpuThreshold: 90,
    vramThreshold: 90,
    activeRequestThreshold: 10,
  });
  const queue = createFairQueue<Job>({ policy: "round_robin", maxPerUser: 16, maxTotal: 64 });
  const scheduler = new Scheduler({
    nodes,
    strategies,
    queue,
    metrics,
    logger: pino({ level: "silent" }),
    maxRetries: 2,
  });
  const sent: { nodeId: string; jobId: string }[] = [];
  const cancels: string[] = [];
  const link = (nodeId: string): NodeLink => ({
    sendJob: (j) => sent.push({ nodeId, jobId: j.jobId }),
    sendCancel: (jobId) => cancels.push(jobId),
  });
  for (const id of nodeIds) {
    const { node } = nodes.upsert(id);
    nodes.setModels(node, ["m"], []);
    node.maxConcurrency = 1;
    nodes.setState(node, "online");
    scheduler.attach(id, link(id));
  }
  const ends = new Map<string, string>();
  const submit = (userId: string) => {
    const spec = buildJobSpec({
      api: "chat",
      body: { model: "m", messages: [{ role: "user", content: "hi" }], max_tokens: 4 },
      userId,
      timeoutMs: 60_000,
    });
    const sink: JobSink = { onChunk: () => {}, onEnd: (err) => ends.set(job.id, err?.code ?? "ok") };
    const job = scheduler.submit(spec, sink);
    return job;
  };
  const chunk = (jobId: string, init: { done?: boolean; error?: JobErrorKind }) =>
    create(JobChunkSchema, {
      jobId,
      done: init.done ?? false,
      ...(init.error !== undefined ? { error: { kind: init.error, message: "x" } } : {}),
    });
  return { nodes, scheduler, sent, cancels, link, submit, chunk, ends };
}

describe("Scheduler: slots, failover and the queue", () => {
  it("keeps a cancelled job's slot until the node confirms the abort", () => {
    const t = setup(["a"]);
    const j1 = t.submit("u1");
    const j2 = t.submit("u1");
    expect(t.sent.map((s) => s.jobId)).toEqual([j1.id]);
    t.scheduler.cancel(j1.id, "client_gone");
    expect(t.cancels).toEqual([j1.id]);
    // The agent still runs j1 until its abort lands: j2 must not be sent into that slot yet.
    expect(t.sent).toHaveLength(1);
    t.scheduler.handleChunk("a", t.chunk(j1.id, { done: true, error: JobErrorKind.CANCELLED }));
    expect(t.sent.map((s) => s.jobId)).toEqual([j1.id, j2.id]);
    t.scheduler.shutdown();
  });

  it("frees a held slot when the node is lost", () => {
    const t = setup(["a"]);
    const j1 = t.submit("u1");
    t.scheduler.cancel(j1.id, "deadline");
    expect(t.nodes.get("a")?.inFlight).toBe(1);
    t.scheduler.nodeLost("a");
    expect(t.nodes.get("a")?.inFlight).toBe(0);
    t.scheduler.shutdown();
  });

  it("lets a job turned away as busy (REJECTED) run on the same node later", () => {
    const t = setup(["a"]);
    const j1 = t.submit("u1");
    t.scheduler.handleChunk("a", t.chunk(j1.id, { done: true, error: JobErrorKind.REJECTED }));
    // Re-queued and sent again to the only node, instead of waiting for its deadline.
    expect(t.sent.map((s) => s.jobId)).toEqual([j1.id, j1.id]);
    t.scheduler.shutdown();
  });

  it("retries a lost job on a node that has re-registered since (a restarted agent)", () => {
    const t = setup(["a"]);
    const j1 = t.submit("u1");
    t.scheduler.nodeLost("a");
    const node = t.nodes.get("a");
    if (!node) throw new Error("node a missing");
    node.registeredAtMs += 1;
    t.scheduler.attach("a", t.link("a"));
    expect(t.sent.map((s) => s.jobId)).toEqual([j1.id, j1.id]);
    t.scheduler.shutdown();
  });

  it("does not let a job no free node will take block the jobs behind it", () => {
    const t = setup(["a", "b"]);
    const j1 = t.submit("u1");
    const j2 = t.submit("u1");
    const x = t.sent[0]?.nodeId ?? "";
    const y = x === "a" ? "b" : "a";
    expect(t.sent).toEqual([
      { nodeId: x, jobId: j1.id },
      { nodeId: y, jobId: j2.id },
    ]);
    // x's stream breaks and resumes without a new registration: j1 may not go back to x.
    t.scheduler.nodeLost(x);
    t.scheduler.attach(x, t.link(x));
    expect(t.sent).toHaveLength(2);
    // Another user's job can use the free slot on x at once.
    const j3 = t.submit("u2");
    expect(t.sent[2]).toEqual({ nodeId: x, jobId: j3.id });
    // j1 keeps its place at the head of the queue and runs on y once it frees.
    expect(t.scheduler.queueSnapshot().total).toBe(1);
    t.scheduler.handleChunk(y, t.chunk(j2.id, { done: true }));
    expect(t.sent[3]).toEqual({ nodeId: y, jobId: j1.id });
    t.scheduler.shutdown();
  });

  it("forgets a job whose dispatch throws, so no deadline timer or entry is left behind", () => {
    const t = setup(["a"]);
    t.scheduler.attach("a", {
      sendJob: () => {
        throw new Error("stream write failed");
      },
      sendCancel: () => {},
    });
    expect(() => t.submit("u1")).toThrow("stream write failed");
    expect(t.scheduler.activeJobs).toBe(0);
    t.scheduler.shutdown();
  });
});
