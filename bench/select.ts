import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { GpuFacts, NodeSnapshot } from "../src/nodes/types.js";
import { createStrategy, STRATEGY_NAMES } from "../src/selector/registry.js";
import { createSeededRng, type Rng } from "../src/selector/rng.js";
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
  /** Measurement rounds; each figure is the median over rounds (default 3). */
  rounds?: number;
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

/**
 * A heterogeneous fleet; `variant` changes the live figures, as successive heartbeats do.
 * Snapshots are built as object literals, never `{ ...base, extra }`: in Node 20 each spread
 * result gets its own hidden class, every property read in the selector turns megamorphic and
 * a decision gets ~10× slower. The node store must build snapshots the same way.
 */
function buildFleet(size: number, gpus: GpuFacts[][], variant: number, rng: Rng): NodeSnapshot[] {
  const models = new Set([MODEL]);
  const nodes: NodeSnapshot[] = [];
  for (let i = 0; i < size; i++) {
    const running = Math.floor(rng() * 24);
    const id = `node-${i}`;
    const labels = { region: "r1", tier: "std", costPerHourUsd: 0.4 + (i % 9) * 0.4 };
    const node = gpus[i] as GpuFacts[];
    const total = 1000 + Math.floor(rng() * 5000);
    // One node in ten has stale figures (undefined), as a fleet always has a few.
    if ((i + variant) % 10 === 0) {
      nodes.push({
        id,
        state: "online",
        models,
        gpus: node,
        labels,
        maxConcurrency: 64,
        inFlight: running,
        totalRequests: total,
        lastSeenMs: 0,
      });
      continue;
    }
    nodes.push({
      id,
      state: "online",
      models,
      gpus: node,
      labels,
      maxConcurrency: 64,
      inFlight: running,
      totalRequests: total,
      gpuUsagePercent: rng() * 100,
      vramUsagePercent: 50 + rng() * 45,
      engine: {
        healthy: true,
        runningRequests: running,
        waitingRequests: rng() < 0.2 ? 2 : 0,
        kvCacheUsage: rng(),
      },
      avgResponseMs: 300 + rng() * 3000,
      ewmaResponseMs: 300 + rng() * 3000,
      lastResponseMs: 300 + rng() * 3000,
      lastSeenMs: 0,
    });
  }
  return nodes;
}

function buildRequests(count: number, rng: Rng): SelectionRequest[] {
  return Array.from({ length: count }, (_, i) => {
    const family = BigInt(i % 16);
    const promptTokens = 200 + Math.floor(rng() * 3800);
    const blocks = Math.min(16, Math.floor(promptTokens / 256));
    const prefixHashes = Array.from(
      { length: blocks },
      (_, b) => family * 1000n + BigInt(b < 4 ? b : b + i * 100),
    );
    return { model: MODEL, userId: `u${i % 8}`, promptTokens, maxTokens: 512, prefixHashes };
  });
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/** One strategy with its own clock and job flow, kept across measurement rounds. */
function createRunner(strategyName: string, fleets: NodeSnapshot[][], requests: SelectionRequest[]) {
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
  const candidates: NodeSnapshot[] = [];
  let step = 0;
  /** Makes `count` decisions; fills `samples` (µs) when given. */
  return (count: number, samples?: Float64Array) => {
    for (let i = 0; i < count; i++, step++) {
      const fleet = fleets[step % fleets.length] as NodeSnapshot[];
      const request = requests[step % requests.length] as SelectionRequest;
      t += 5;
      // What the control plane does right before select (untimed): online, serves the model,
      // has a free slot. It also leaves the snapshots as warm in cache as they are in production.
      candidates.length = 0;
      for (const node of fleet) {
        if (node.state === "online" && node.models.has(request.model) && node.inFlight < node.maxConcurrency) {
          candidates.push(node);
        }
      }
      const t0 = process.hrtime.bigint();
      const selection = strategy.select(request, candidates);
      const t1 = process.hrtime.bigint();
      if (samples !== undefined) samples[i] = Number(t1 - t0) / 1000;
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
  };
}

function summarise(samples: Float64Array) {
  let sum = 0;
  let max = 0;
  for (const s of samples) {
    sum += s;
    if (s > max) max = s;
  }
  const sorted = Float64Array.from(samples).sort();
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), mean: sum / samples.length, max };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** Runs the selection benchmark, prints a table, writes JSON; returns the report. */
export async function runSelectBench(opts: SelectBenchOptions = {}): Promise<object> {
  const sizes = opts.nodes ?? [100, 1_000, 10_000];
  const iterations = opts.iterations ?? 2_000;
  const names = opts.strategies ?? [...STRATEGY_NAMES];
  const out = opts.out ?? fileURLToPath(new URL("./results/select.json", import.meta.url));
  const rounds = Math.max(1, opts.rounds ?? 3);
  const rows: SelectBenchRow[] = [];
  for (const size of sizes) {
    const rng = createSeededRng(size);
    const gpus = Array.from({ length: size }, (_, i) => gpuFacts(i));
    const fleets = [0, 1, 2, 3].map((v) => buildFleet(size, gpus, v, rng));
    const requests = buildRequests(512, rng);
    const runners = names.map((name) => createRunner(name, fleets, requests));
    for (const run of runners) run(Math.max(200, iterations >> 2)); // warm-up: JIT and learned state
    // Rounds interleave the strategies, and each figure is the median over rounds, so a burst of
    // load from another process on a shared machine skews one round, not the result.
    const perRound = names.map(() => [] as ReturnType<typeof summarise>[]);
    const samples = new Float64Array(iterations);
    for (let r = 0; r < rounds; r++) {
      runners.forEach((run, k) => {
        run(iterations, samples);
        perRound[k]?.push(summarise(samples));
      });
    }
    names.forEach((name, k) => {
      const stats = perRound[k] ?? [];
      const round2 = (x: number) => Math.round(x * 100) / 100;
      rows.push({
        strategy: name,
        nodes: size,
        p50Us: round2(median(stats.map((x) => x.p50))),
        p99Us: round2(median(stats.map((x) => x.p99))),
        meanUs: round2(median(stats.map((x) => x.mean))),
        maxUs: round2(Math.max(...stats.map((x) => x.max))),
      });
    });
  }
  const report = {
    benchmark: "select",
    date: new Date().toISOString(),
    machine: {
      cpu: os.cpus()[0]?.model ?? "unknown",
      cores: os.cpus().length,
      node: process.version,
      platform: process.platform,
    },
    iterations,
    rounds,
    targetsP99Us: TARGET_P99_US,
    rows,
  };
  printTable(rows, sizes, names);
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(
    `\n${report.machine.cpu} (${report.machine.cores} cores), Node ${process.version}; wrote ${out}`,
  );
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
  for (const line of lines)
    console.log(
      line
        .map((cell, c) =>
          cell.padStart(c === 0 ? 0 : (widths[c] ?? 0)).padEnd(c === 0 ? (widths[c] ?? 0) : 0),
        )
        .join("  "),
    );
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
    if (argv[i] === "--rounds" && value) opts.rounds = Number(value);
  }
  return opts;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runSelectBench(parseArgs(process.argv.slice(2)));
}
