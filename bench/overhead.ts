import { randomBytes } from "node:crypto";
import * as hdr from "hdr-histogram-js";
import { Pool } from "undici";
import { type Fleet, launchFleet } from "../src/fleet/launcher.js";
import { startControlPlaneProcess } from "./lib/control-plane-process.js";
import { median } from "./lib/load.js";
import { cpuTicks, TICKS_PER_SECOND } from "./lib/proc.js";
import { printTable, writeJson } from "./lib/report.js";

/**
 * Overhead of the load balancer: the same zero-delay simulated engine called directly and through
 * facade → node stream → agent, at a fixed open-loop rate (latency measured from the intended send
 * time, so a stall counts fully), then the maximum sustained rate through one control plane.
 */
export async function runOverheadBench(o: { out?: string; quick?: boolean; rate?: number }): Promise<object> {
  const rate = o.rate ?? 500;
  const rounds = o.quick ? 1 : 3;
  const phaseMs = o.quick ? 2_000 : 6_000;
  const apiKey = `sk-bench-${randomBytes(8).toString("hex")}`;
  const nodeToken = `nt-bench-${randomBytes(8).toString("hex")}`;
  const cp = await startControlPlaneProcess(
    {
      LLMLB_API_KEYS: apiKey,
      LLMLB_NODE_TOKENS: nodeToken,
      LLMLB_LOG_LEVEL: "warn",
      LLMLB_DB: ":memory:",
    },
    ["--strategy", "least_connections"],
  );
  let fleet: Fleet | undefined;
  try {
    fleet = await launchFleet({
      serverUrl: cp.url,
      nodeToken,
      nodes: [
        { id: "bench-instant", profile: "h100", model: "llama-3.1-8b", instant: true, maxConcurrency: 4096 },
      ],
    });
    await cp.waitForNodes(1);
    const simUrl = fleet.nodes[0]?.simUrl ?? "";
    const body = JSON.stringify({
      model: "llama-3.1-8b",
      messages: [{ role: "user", content: "Hello" }],
      max_tokens: 8,
    });
    const targets = {
      direct: {
        pool: new Pool(simUrl, { connections: 256, pipelining: 1 }),
        headers: { "content-type": "application/json" },
      },
      llmlb: {
        pool: new Pool(cp.url, { connections: 256, pipelining: 1 }),
        headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
      },
    };
    // Warm-up at the measured rate (JIT, connection pools, the node stream), so the first round
    // does not start with the backlog of opening connections and compiling at full rate.
    for (const t of Object.values(targets))
      await openLoop(t.pool, t.headers, body, rate, o.quick ? 1_000 : 3_000);

    const perRound: { round: number; path: string; p50: number; p99: number; errors: number }[] = [];
    for (let r = 1; r <= rounds; r++) {
      for (const [path, t] of Object.entries(targets)) {
        const res = await openLoop(t.pool, t.headers, body, rate, phaseMs);
        perRound.push({ round: r, path, p50: res.p50, p99: res.p99, errors: res.errors });
      }
    }
    const med = (path: string, k: "p50" | "p99") =>
      median(perRound.filter((x) => x.path === path).map((x) => x[k]));
    const fixedRate = {
      rate,
      direct_p50_ms: med("direct", "p50"),
      direct_p99_ms: med("direct", "p99"),
      llmlb_p50_ms: med("llmlb", "p50"),
      llmlb_p99_ms: med("llmlb", "p99"),
      added_p50_ms: med("llmlb", "p50") - med("direct", "p50"),
      added_p99_ms: med("llmlb", "p99") - med("direct", "p99"),
      errors: perRound.reduce((a, x) => a + x.errors, 0),
    };
    printTable(
      `Fixed rate ${rate} req/s, non-streamed, ${rounds} round(s) × ${phaseMs / 1000} s per path (ms)`,
      perRound,
    );
    printTable("Medians across rounds (ms)", [fixedRate]);

    // Where the CPU goes: each process's CPU time over the closed-loop phase, per request (µs).
    const node = fleet.nodes[0];
    const pids = { control_plane: cp.proc.pid ?? 0, agent: node?.agent.pid ?? 0, sim: node?.sim.pid ?? 0 };
    const tput: Record<string, number | string>[] = [];
    for (const [path, t] of Object.entries(targets)) {
      const before = { ticks: ticksOf(pids), client: process.cpuUsage() };
      const res = await closedLoop(t.pool, t.headers, body, 64, o.quick ? 3_000 : 10_000);
      const client = process.cpuUsage(before.client);
      const after = ticksOf(pids);
      const perCall = (ticks: number) =>
        Math.round((ticks * (1e6 / TICKS_PER_SECOND)) / Math.max(1, res.count));
      tput.push({
        path,
        concurrency: 64,
        req_per_s: Math.round(res.rps),
        p50_ms: res.p50,
        p99_ms: res.p99,
        errors: res.errors,
        cpu_us_client: Math.round((client.user + client.system) / Math.max(1, res.count)),
        cpu_us_sim: perCall(after.sim - before.ticks.sim),
        cpu_us_agent: path === "direct" ? 0 : perCall(after.agent - before.ticks.agent),
        cpu_us_control_plane:
          path === "direct" ? 0 : perCall(after.control_plane - before.ticks.control_plane),
      });
    }
    printTable("Maximum sustained rate, closed loop", tput);
    for (const t of Object.values(targets)) await t.pool.close();
    const result = { fixedRate, perRound, throughput: tput };
    writeJson(o.out ?? "bench/results/overhead.json", result);
    return result;
  } finally {
    await fleet?.stop();
    await cp.stop();
  }
}

interface LoadResult {
  p50: number;
  p99: number;
  errors: number;
  rps: number;
  /** Requests completed. */
  count: number;
}

function ticksOf<K extends string>(pids: Record<K, number>): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const k of Object.keys(pids) as K[]) out[k] = cpuTicks(pids[k]);
  return out;
}

function histogram() {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

async function send(pool: Pool, headers: Record<string, string>, body: string): Promise<boolean> {
  try {
    const res = await pool.request({ path: "/v1/chat/completions", method: "POST", headers, body });
    await res.body.arrayBuffer();
    return res.statusCode === 200;
  } catch {
    return false;
  }
}

/** Sends at a fixed rate regardless of responses; latency counts from each request's intended time. */
async function openLoop(
  pool: Pool,
  headers: Record<string, string>,
  body: string,
  rate: number,
  durationMs: number,
): Promise<LoadResult> {
  const h = histogram();
  const total = Math.round((rate * durationMs) / 1000);
  const start = performance.now();
  let sent = 0;
  let errors = 0;
  const inflight: Promise<void>[] = [];
  while (sent < total) {
    const now = performance.now();
    while (sent < total && start + (sent * 1000) / rate <= now) {
      const intended = start + (sent * 1000) / rate;
      inflight.push(
        send(pool, headers, body).then((ok) => {
          if (!ok) errors++;
          h.recordValue(Math.max(1, Math.round((performance.now() - intended) * 1000)));
        }),
      );
      sent++;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - start) / 1000;
  const out = {
    p50: h.getValueAtPercentile(50) / 1000,
    p99: h.getValueAtPercentile(99) / 1000,
    errors,
    rps: total / elapsed,
    count: total,
  };
  h.destroy();
  return out;
}

/** `concurrency` workers send back to back for a while: the highest rate the path sustains. */
async function closedLoop(
  pool: Pool,
  headers: Record<string, string>,
  body: string,
  concurrency: number,
  durationMs: number,
): Promise<LoadResult> {
  const h = histogram();
  const end = performance.now() + durationMs;
  let done = 0;
  let errors = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        if (!(await send(pool, headers, body))) errors++;
        h.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
        done++;
      }
    }),
  );
  const rps = done / ((performance.now() - start) / 1000);
  const out = {
    p50: h.getValueAtPercentile(50) / 1000,
    p99: h.getValueAtPercentile(99) / 1000,
    errors,
    rps,
    count: done,
  };
  h.destroy();
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await runOverheadBench({ quick: process.argv.includes("--quick") });
}
