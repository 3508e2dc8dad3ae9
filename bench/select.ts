import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { GpuFacts, NodeSnapshot } from "../src/nodes/types.js";
import { STRATEGY_NAMES, createStrategy } from "../src/selector/registry.js";
import { type Rng, createSeededRng } from "../src/selector/rng.js";
import type { SelectionRequest } from "../src/selector/types.js";

// Decision latency of every strategy at 100 / 1,000 / 10,000 candidates: p50/p99 of one
// `select` call, the job flow (onDispatch / onOutcome) running between calls but not timed.
// Targets: p99 ≤ 50 µs at 1,000 nodes, ≤ 1 ms at 10,000.
// Run: npx tsx bench/select.ts [--iterations N] [--nodes 100,1000] [--out file.json]

/** Options of runSelectBench; defaults: nodes [100, 1000, 10000], 2000 timed calls each. */
export interface SelectBenchOptions {
  nodes?: number[];
  iterations?: number;
  out?: string;
  strategies?: string[];
}

/** One strategy at one fleet size. */
export interface SelectBenchRow {
  strategy: string;
  nodes: number;
  p50Us: number;
  p99Us: number;
  meanUs: number;
  maxUs: number;
}

const TARGET_P99_US: Record<number, number> = { 1000: 50, 10000: 1000 };
const MODEL = "llama-3.1-8b";
const GPUS: ReadonlyArray<readonly [string, number]> = [
  ["NVIDIA H100 80GB HBM3", 81559],
  ["NVIDIA A100-SXM4-80GB", 81920],
  ["NVIDIA L4", 23034],
  ["NVIDIA GeForce RTX 4090", 24564],
  ["NVIDIA GeForce RTX 3090", 24576],
  ["NVIDIA GeForce RTX 3080", 10240],
];

function gpuFacts(i: number): GpuFacts[] {
  const [name, vram] = GPUS[i % GPUS.length] as readonly [string, number];
  const count = i % 7 === 0 ? 2 : 1;
  return Array.from({ length: count }, (_, index) => ({
    index,
    uuid: `GPU-${i}-${index}`,
    name,
    vramTotalMib: vram,
    computeCapability: "8.9",
    driverVersion: "580",
  }));
}

/** A heterogeneous fleet; `variant` changes the live figures, as successive heartbeats do. */
function buildFleet(size: number, gpus: GpuFacts[][], variant: number, rng: Rng): NodeSnapshot[] {
  const models = new Set([MODEL]);
  const nodes: NodeSnapshot[] = [];
  for (let i = 0; i < size; i++) {
    const running = Math.floor(rng() * 24);
    const base = {
      id: `node-${i}`,
      state: "online" as const,
      models,
      gpus: gpus[i] as GpuFacts[],
      labels: { region: "r1", tier: "std", costPerHourUsd: 0.4 + (i % 9) * 0.4 },
      maxConcurrency: 64,
      inFlight: running,
      totalRequests: 1000 + Math.floor(rng() * 5000),
      lastSeenMs: 0,
    };
    // One node in ten has stale figures (undefined), as a fleet always has a few.
    if ((i + variant) % 10 === 0) {
      nodes.push(base);
      continue;
    }
    nodes.push({
      ...base,
      gpuUsagePercent: rng() * 100,
      vramUsagePercent: 50 + rng() * 45,
      engine: { healthy: true, runningRequests: running, waitingRequests: rng() < 0.2 ? 2 : 0, kvCacheUsage: rng() },
      avgResponseMs: 300 + rng() * 3000,
      ewmaResponseMs: 300 + rng() * 3000,
      lastResponseMs: 300 + rng() * 3000,
    });
  }
  return nodes;
}

function buildRequests(count: number, rng: Rng): SelectionRequest[] {
  return Array.from({ length: count }, (_, i) => {
    const family = BigInt(i % 16);
    const promptTokens = 200 + Math.floor(rng() * 3800);
    const blocks = Math.min(16, Math.floor(promptTokens / 256));
    const prefixHashes = Array.from({ length: blocks }, (_, b) => family * 1000n + BigInt(b < 4 ? b : b + i * 100));
    return { model: MODEL, userId: `u${i % 8}`, promptTokens, maxTokens: 512, prefixHashes };
  });
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

function benchOne(strategyName: string, fleets: NodeSnapshot[][], requests: SelectionRequest[], iterations: number) {
  let t = 1_000_000;
  const strategy = createStrategy(strategyName, {
    gpuThreshold: 80,
    vramThreshold: 90,
    activeRequestThreshold: 10,
    rng: createSeededRng(1),
    now: () => t,
  });
  const flowRng = createSeededRng(2);
  const open: { nodeId: string; at: number; prompt: number }[] = [];
  const samples = new Float64Array(iterations);
  const warmup = Math.max(200, iterations >> 2);
  for (let i = -warmup; i < iterations; i++) {
    const fleet = fleets[(i + warmup) % fleets.length] as NodeSnapshot[];
    const request = requests[(i + warmup) % requests.length] as SelectionRequest;
    t += 5;
    const t0 = process.hrtime.bigint();
    const selection = strategy.select(request, fleet);
    const t1 = process.hrtime.bigint();
    if (i >= 0) samples[i] = Number(t1 - t0) / 1000;
    if (selection === undefined) continue;
    strategy.onDispatch?.(request, selection.node.id);
    open.push({ nodeId: selection.node.id, at: t, prompt: request.promptTokens });
    if (open.length > 256) {
      const job = open.splice(Math.floor(flowRng() * open.length), 1)[0] as (typeof open)[number];
      strategy.onOutcome?.({
        nodeId: job.nodeId,
        model: MODEL,
        ok: true,
        promptTokens: job.prompt,
        completionTokens: 100 + Math.floor(flowRng() * 400),
        cachedPromptTokens: 0,
        ttftMs: 50 + flowRng() * 200,
        durationMs: t - job.at,
      });
    }
  }
  let sum = 0;
  let max = 0;
  for (const s of samples) {
    sum += s;
    if (s > max) max = s;
  }
  samples.sort();
  const round = (x: number) => Math.round(x * 100) / 100;
  return { p50Us: round(quantile(samples, 0.5)), p99Us: round(quantile(samples, 0.99)), meanUs: round(sum / iterations), maxUs: round(max) };
}

/** Runs the selection benchmark, prints a table, writes JSON; returns the report. */
export async function runSelectBench(opts: SelectBenchOptions = {}): Promise<object> {
  const sizes = opts.nodes ?? [100, 1_000, 10_000];
  const iterations = opts.iterations ?? 2_000;
  const names = opts.strategies ?? [...STRATEGY_NAMES];
  const out = opts.out ?? fileURLToPath(new URL("./results/select.json", import.meta.url));
  const rows: SelectBenchRow[] = [];
  for (const size of sizes) {
    const rng = createSeededRng(size);
    const gpus = Array.from({ length: size }, (_, i) => gpuFacts(i));
    const fleets = [0, 1, 2, 3].map((v) => buildFleet(size, gpus, v, rng));
    const requests = buildRequests(512, rng);
    for (const name of names) rows.push({ strategy: name, nodes: size, ...benchOne(name, fleets, requests, iterations) });
  }
  const report = {
    benchmark: "select",
    date: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model ?? "unknown", cores: os.cpus().length, node: process.version, platform: process.platform },
    iterations,
    targetsP99Us: TARGET_P99_US,
    rows,
  };
  printTable(rows, sizes, names);
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\n${report.machine.cpu} (${report.machine.cores} cores), Node ${process.version}; wrote ${out}`);
  return report;
}

function printTable(rows: SelectBenchRow[], sizes: number[], names: string[]): void {
  const header = ["strategy", ...sizes.flatMap((s) => [`p50@${s} µs`, `p99@${s} µs`])];
  const lines = [header];
  for (const name of names) {
    const cells = [name];
    for (const size of sizes) {
      const row = rows.find((r) => r.strategy === name && r.nodes === size);
      const target = TARGET_P99_US[size];
      const miss = row !== undefined && target !== undefined && row.p99Us > target ? " !" : "";
      cells.push(row ? row.p50Us.toFixed(1) : "-", row ? `${row.p99Us.toFixed(1)}${miss}` : "-");
    }
    lines.push(cells);
  }
  const widths = header.map((_, c) => Math.max(...lines.map((l) => (l[c] ?? "").length)));
  for (const line of lines) console.log(line.map((cell, c) => cell.padStart(c === 0 ? 0 : (widths[c] ?? 0)).padEnd(c === 0 ? (widths[c] ?? 0) : 0)).join("  "));
  console.log("(! = p99 over target: 50 µs at 1,000 nodes, 1 ms at 10,000)");
}

function parseArgs(argv: string[]): SelectBenchOptions {
  const opts: SelectBenchOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    if (argv[i] === "--iterations" && value) opts.iterations = Number(value);
    if (argv[i] === "--nodes" && value) opts.nodes = value.split(",").map(Number);
    if (argv[i] === "--out" && value) opts.out = value;
    if (argv[i] === "--strategies" && value) opts.strategies = value.split(",");
  }
  return opts;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runSelectBench(parseArgs(process.argv.slice(2)));
}
