import { randomBytes } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import * as hdr from "hdr-histogram-js";
import { Pool } from "undici";
import { type Fleet, launchFleet } from "../src/fleet/launcher.js";
import {
  ChatRole,
  CreateChatCompletionRequestSchema,
  CreateChatCompletionResponseSchema,
  DispatchService,
  StreamChatCompletionRequestSchema,
  StreamChatCompletionResponseSchema,
} from "../src/gen/llmlb/v1/dispatch_pb.js";
import { startControlPlaneProcess } from "./lib/control-plane-process.js";
import { median } from "./lib/load.js";
import { cpuTicks, TICKS_PER_SECOND } from "./lib/proc.js";
import { printTable, writeJson } from "./lib/report.js";

/** One way of making a request: resolves true on success. */
type Send = () => Promise<boolean>;

interface PathResult {
  p50: number;
  p99: number;
  rps: number;
  errors: number;
  /** Control-plane CPU (user + system) per call, µs: what the door itself costs the server. */
  cpUsPerCall: number;
}

const MODEL = "llama-3.1-8b";
const PROMPT = "Hello";
const MAX_TOKENS = 8;
const CONCURRENCY = 64;

/**
 * The Dispatch API against the OpenAI facade, on the same control plane (its own process) and the
 * same zero-delay simulated engine: unary and streamed chat completions, one at a time (latency)
 * and 64 in flight (throughput), rounds interleaved so drift hits both doors alike. The sim called
 * directly gives the baseline, so "added latency" is what the control plane path costs.
 */
export async function runDispatchBench(o: { out?: string; quick?: boolean }): Promise<object> {
  const rounds = o.quick ? 1 : 3;
  const phaseMs = o.quick ? 1_500 : 5_000;
  const apiKey = `sk-bench-${randomBytes(8).toString("hex")}`;
  const nodeToken = `nt-bench-${randomBytes(8).toString("hex")}`;
  const cp = await startControlPlaneProcess(
    { LLMLB_API_KEYS: apiKey, LLMLB_NODE_TOKENS: nodeToken, LLMLB_LOG_LEVEL: "warn", LLMLB_DB: ":memory:" },
    ["--strategy", "least_connections"],
  );
  let fleet: Fleet | undefined;
  const pools: Pool[] = [];
  let dispatch: grpc.Client | undefined;
  try {
    fleet = await launchFleet({
      serverUrl: cp.url,
      nodeToken,
      nodes: [{ id: "bench-instant", profile: "h100", model: MODEL, instant: true, maxConcurrency: 4096 }],
    });
    await cp.waitForNodes(1, 60_000);
    const simUrl = fleet.nodes[0]?.simUrl ?? "";
    const simPool = new Pool(simUrl, { connections: 128, pipelining: 1 });
    const lbPool = new Pool(cp.url, { connections: 128, pipelining: 1 });
    pools.push(simPool, lbPool);
    // A stock @grpc/grpc-js client (one HTTP/2 connection), as internal services would call it.
    const grpcClient = new grpc.Client(new URL(cp.url).host, grpc.credentials.createInsecure());
    dispatch = grpcClient;
    const metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${apiKey}`);
    const paths: Record<string, Send> = {
      "direct unary": () => httpChat(simPool, {}, false),
      "direct stream": () => httpChat(simPool, {}, true),
      "facade unary": () => httpChat(lbPool, { authorization: `Bearer ${apiKey}` }, false),
      "facade stream": () => httpChat(lbPool, { authorization: `Bearer ${apiKey}` }, true),
      "dispatch unary": () => dispatchUnary(grpcClient, metadata),
      "dispatch stream": () => dispatchStream(grpcClient, metadata),
      // The same Dispatch service through the Connect protocol on HTTP/1.1 (as the facade's
      // client uses): tells the service's own cost apart from grpc-js's and HTTP/2's.
      "dispatch-connect unary": () => connectUnary(lbPool, apiKey),
      "dispatch-connect stream": () => connectStream(lbPool, apiKey),
    };
    const cpPid = cp.proc.pid ?? 0;
    // Warm-up: JIT, connection pools, the HTTP/2 session, the node stream.
    for (const send of Object.values(paths)) await closedLoop(send, 16, 500, cpPid);

    const perRound: Record<string, string | number>[] = [];
    for (let r = 1; r <= rounds; r++) {
      for (const [path, send] of Object.entries(paths)) {
        const seq = await closedLoop(send, 1, phaseMs, cpPid);
        const par = await closedLoop(send, CONCURRENCY, phaseMs, cpPid);
        perRound.push({
          round: r,
          path,
          seq_p50_ms: seq.p50,
          seq_p99_ms: seq.p99,
          [`c${CONCURRENCY}_req_per_s`]: Math.round(par.rps),
          [`c${CONCURRENCY}_p50_ms`]: par.p50,
          [`c${CONCURRENCY}_p99_ms`]: par.p99,
          cp_cpu_us_per_call: Math.round(par.cpUsPerCall),
          errors: seq.errors + par.errors,
        });
      }
    }
    const med = (path: string, k: string) =>
      median(perRound.filter((x) => x.path === path).map((x) => Number(x[k])));
    const rows = Object.keys(paths).map((path) => ({
      path,
      seq_p50_ms: med(path, "seq_p50_ms"),
      seq_p99_ms: med(path, "seq_p99_ms"),
      req_per_s: Math.round(med(path, `c${CONCURRENCY}_req_per_s`)),
      p50_ms: med(path, `c${CONCURRENCY}_p50_ms`),
      p99_ms: med(path, `c${CONCURRENCY}_p99_ms`),
      cp_cpu_us_per_call: med(path, "cp_cpu_us_per_call"),
      errors: perRound.filter((x) => x.path === path).reduce((a, x) => a + Number(x.errors), 0),
    }));
    printTable(
      `Per round (${rounds} × ${phaseMs / 1000} s per mode; sequential, then ${CONCURRENCY} in flight; ms)`,
      perRound,
    );
    printTable(
      `Medians across rounds (sequential latency; ${CONCURRENCY} in flight: rate and latency)`,
      rows,
    );

    const byPath = Object.fromEntries(rows.map((r) => [r.path, r]));
    const compare = (
      [
        ["unary", "dispatch"],
        ["stream", "dispatch"],
        ["unary", "dispatch-connect"],
        ["stream", "dispatch-connect"],
      ] as const
    ).map(([kind, door]) => {
      const d = byPath[`${door} ${kind}`];
      const f = byPath[`facade ${kind}`];
      const base = byPath[`direct ${kind}`];
      if (!d || !f || !base) throw new Error("missing path result");
      const addedD = d.seq_p50_ms - base.seq_p50_ms;
      const addedF = f.seq_p50_ms - base.seq_p50_ms;
      return {
        door: door === "dispatch" ? "grpc-js, HTTP/2" : "Connect, HTTP/1.1",
        kind,
        facade_added_p50_ms: addedF,
        dispatch_added_p50_ms: addedD,
        facade_added_p99_ms: f.seq_p99_ms - base.seq_p99_ms,
        dispatch_added_p99_ms: d.seq_p99_ms - base.seq_p99_ms,
        facade_req_per_s: f.req_per_s,
        dispatch_req_per_s: d.req_per_s,
        // The target: Dispatch within 10% of the facade (rate not lower by more, p50 not higher by more).
        rate_vs_facade: d.req_per_s / f.req_per_s,
        p50_vs_facade: d.seq_p50_ms / f.seq_p50_ms,
        cp_cpu_vs_facade: d.cp_cpu_us_per_call / f.cp_cpu_us_per_call,
        within_10pct: d.req_per_s >= 0.9 * f.req_per_s && d.seq_p50_ms <= 1.1 * f.seq_p50_ms ? "yes" : "no",
      };
    });
    printTable(
      "Dispatch (grpc-js over HTTP/2; Connect protocol over HTTP/1.1) vs OpenAI facade (undici, HTTP/1.1), same control plane and sim",
      compare,
    );
    const result = {
      model: MODEL,
      maxTokens: MAX_TOKENS,
      concurrency: CONCURRENCY,
      rounds,
      phaseMs,
      perRound,
      medians: rows,
      compare,
    };
    writeJson(o.out ?? "bench/results/dispatch.json", result);
    return result;
  } finally {
    dispatch?.close();
    await Promise.all(pools.map((p) => p.close()));
    await fleet?.stop();
    await cp.stop();
  }
}

const chatBody = (stream: boolean) =>
  JSON.stringify({
    model: MODEL,
    messages: [{ role: "user", content: PROMPT }],
    max_tokens: MAX_TOKENS,
    stream,
  });

async function httpChat(pool: Pool, headers: Record<string, string>, stream: boolean): Promise<boolean> {
  try {
    const res = await pool.request({
      path: "/v1/chat/completions",
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: chatBody(stream),
    });
    // Read to the end: a stream counts once its last event ([DONE]) has arrived.
    await res.body.arrayBuffer();
    return res.statusCode === 200;
  } catch {
    return false;
  }
}

const request = {
  model: MODEL,
  messages: [{ role: ChatRole.USER, content: PROMPT }],
  sampling: { maxTokens: MAX_TOKENS },
};
const unaryPath = `/${DispatchService.typeName}/${DispatchService.method.createChatCompletion.name}`;
const streamPath = `/${DispatchService.typeName}/${DispatchService.method.streamChatCompletion.name}`;
const unaryBytes = Buffer.from(
  toBinary(CreateChatCompletionRequestSchema, create(CreateChatCompletionRequestSchema, request)),
);
const streamBytes = Buffer.from(
  toBinary(StreamChatCompletionRequestSchema, create(StreamChatCompletionRequestSchema, request)),
);
const raw = (b: Buffer) => b;

function dispatchUnary(client: grpc.Client, metadata: grpc.Metadata): Promise<boolean> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      unaryPath,
      raw,
      (b: Buffer) => fromBinary(CreateChatCompletionResponseSchema, b),
      unaryBytes,
      metadata,
      (err) => resolve(!err),
    );
  });
}

function dispatchStream(client: grpc.Client, metadata: grpc.Metadata): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const call = client.makeServerStreamRequest(
      streamPath,
      raw,
      (b: Buffer) => fromBinary(StreamChatCompletionResponseSchema, b),
      streamBytes,
      metadata,
    );
    call.on("data", (m: { event: { case: string | undefined } }) => {
      done = m.event.case === "done";
    });
    call.on("error", () => {});
    call.on("status", (st: grpc.StatusObject) => resolve(st.code === grpc.status.OK && done));
  });
}

/** CPU ticks of the control plane, 0 where /proc is not there (the column then reads 0). */
function cpTicks(pid: number): number {
  try {
    return cpuTicks(pid);
  } catch {
    return 0;
  }
}

/** Connect protocol, unary, binary proto over HTTP/1.1. */
async function connectUnary(pool: Pool, apiKey: string): Promise<boolean> {
  try {
    const res = await pool.request({
      path: unaryPath,
      method: "POST",
      headers: {
        "content-type": "application/proto",
        "connect-protocol-version": "1",
        authorization: `Bearer ${apiKey}`,
      },
      body: unaryBytes,
    });
    const body = new Uint8Array(await res.body.arrayBuffer());
    return res.statusCode === 200 && fromBinary(CreateChatCompletionResponseSchema, body).nodeId !== "";
  } catch {
    return false;
  }
}

/** Connect protocol, server stream: one enveloped request, enveloped messages back, then end-of-stream. */
async function connectStream(pool: Pool, apiKey: string): Promise<boolean> {
  try {
    const res = await pool.request({
      path: streamPath,
      method: "POST",
      headers: {
        "content-type": "application/connect+proto",
        "connect-protocol-version": "1",
        authorization: `Bearer ${apiKey}`,
      },
      body: envelope(streamBytes),
    });
    const body = Buffer.from(await res.body.arrayBuffer());
    let done = false;
    for (let at = 0; at + 5 <= body.length; ) {
      const flags = body[at] ?? 0;
      const len = body.readUInt32BE(at + 1);
      const payload = body.subarray(at + 5, at + 5 + len);
      at += 5 + len;
      // Flag 0x02 marks the end-of-stream message (JSON; an "error" key means the call failed).
      if (flags & 0x02) return done && !JSON.parse(payload.toString() || "{}").error;
      done = fromBinary(StreamChatCompletionResponseSchema, payload).event.case === "done";
    }
    return false;
  } catch {
    return false;
  }
}

function envelope(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

/** `concurrency` workers send back to back for a while: latency per call and the sustained rate. */
async function closedLoop(
  send: Send,
  concurrency: number,
  durationMs: number,
  cpPid: number,
): Promise<PathResult> {
  const ticks0 = cpTicks(cpPid);
  const h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const start = performance.now();
  const end = start + durationMs;
  let done = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        if (!(await send())) errors++;
        h.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
        done++;
      }
    }),
  );
  const out = {
    p50: h.getValueAtPercentile(50) / 1000,
    p99: h.getValueAtPercentile(99) / 1000,
    rps: done / ((performance.now() - start) / 1000),
    errors,
    cpUsPerCall: (((cpTicks(cpPid) - ticks0) / TICKS_PER_SECOND) * 1e6) / Math.max(1, done),
  };
  h.destroy();
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await runDispatchBench({ quick: process.argv.includes("--quick") });
}
