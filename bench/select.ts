import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { NodeOrdinals, nextNodeGeneration } from "../src/nodes/node-ordinals.js";
import type { GpuFacts, NodeLabels, NodeSnapshot } from "../src/nodes/types.js";
import { createStrategy, STRATEGY_NAMES } from "../src/selector/registry.js";
import { createSeededRng, type Rng } from "../src/selector/rng.js";
import type { SelectionRequest } from "../src/selector/types.js";
import { PACKAGE_ROOT } from "../src/util/paths.js";

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
  /** The same decisions timed as on-CPU time, immune to being descheduled on a shared machine. */
  cpuP50Us: number;
  cpuP99Us: number;
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

/**
 * What registration fixes about a node: its id, store ordinal and generation (as NodeStore hands
 * them out), GPUs and labels (heartbeats never change them).
 */
interface Registration {
  readonly id: string;
  readonly ordinal: number;
  readonly generation: number;
  readonly gpus: GpuFacts[];
  readonly labels: NodeLabels;
}

function register(i: number, ordinals: NodeOrdinals): Registration {
  return {
    id: `node-${i}`,
    ordinal: ordinals.allocate(),
    generation: nextNodeGeneration(),
    gpus: gpuFacts(i),
    labels: { region: "r1", tier: "std", costPerHourUsd: 0.4 + (i % 9) * 0.4 },
  };
}

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
 * A heterogeneous fleet; `variant` changes the live figures, as successive heartbeats do. The
 * registration objects (id string, GPU list, labels) are shared by every variant of a node, as
 * they are in the control plane, where a snapshot is the node's one NodeRecord and heartbeats
 * only update its figures; the selector's per-node caches rely on that identity.
 * Snapshots are built as object literals, never `{ ...base, extra }`: in Node 20 each spread
 * result gets its own hidden class, every property read in the selector turns megamorphic and
 * a decision gets ~10× slower. The node store must build snapshots the same way. Fields the
 * selector reads on every decision come first, so they share the object's first cache line or
 * two; the registration objects (GPU list, labels), which a selector keyed by ordinal and
 * generation no longer reads per decision, and the total request count come last.
 */
function buildFleet(size: number, registrations: Registration[], variant: number, rng: Rng): NodeSnapshot[] {
  const models = new Set([MODEL]);
  const nodes: NodeSnapshot[] = [];
  for (let i = 0; i < size; i++) {
    const running = Math.floor(rng() * 24);
    const { id, ordinal, generation, gpus: node, labels } = registrations[i] as Registration;
    const total = 1000 + Math.floor(rng() * 5000);
    // One node in ten has stale figures (undefined), as a fleet always has a few.
    if ((i + variant) % 10 === 0) {
      nodes.push({
        id,
        state: "online",
        models,
        maxConcurrency: 64,
        inFlight: running,
        ordinal,
        generation,
        totalRequests: total,
        gpus: node,
        labels,
        lastSeenMs: 0,
      });
      continue;
    }
    nodes.push({
      id,
      state: "online",
      models,
      maxConcurrency: 64,
      inFlight: running,
      ordinal,
      generation,
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
      totalRequests: total,
      gpus: node,
      labels,
      lastSeenMs: 0,
    });
  }
  return nodes;
}

/**
 * Requests with cumulative prefix hashes as the control plane makes them: 8 blocks of a system
 * prompt every request shares (so, over time, every node holds them), 4 blocks shared by one of
 * 16 conversation families, then blocks unique to the request.
 */
function buildRequests(count: number, rng: Rng): SelectionRequest[] {
  return Array.from({ length: count }, (_, i) => {
    const family = BigInt(i % 16);
    const promptTokens = 800 + Math.floor(rng() * 3200);
    const blocks = Math.min(64, Math.floor(promptTokens / 64));
    const prefixHashes = Array.from({ length: blocks }, (_, b) => {
      if (b < 8) return 1_000_000n + BigInt(b);
      if (b < 12) return 2_000_000n + family * 100n + BigInt(b);
      return 3_000_000n + BigInt(i) * 100n + BigInt(b);
    });
    return { model: MODEL, userId: `u${i % 8}`, promptTokens, maxTokens: 512, prefixHashes };
  });
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/**
 * On a shared machine wall time includes time spent descheduled; on-CPU time (getrusage through
 * process.cpuUsage, µs resolution) does not. Returns what one empty measurement costs (µs).
 */
function measureCpuOverhead(): number {
  const xs = new Float64Array(2000);
  for (let i = 0; i < xs.length; i++) {
    const c0 = process.cpuUsage();
    const c1 = process.cpuUsage(c0);
    xs[i] = c1.user + c1.system;
  }
  return quantile(xs.sort(), 0.5);
}

/** A fixed loop's best time per iteration (ns): how fast this machine is right now. */
function calibrate(): number {
  let best = Number.POSITIVE_INFINITY;
  let x = 0;
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 5_000_000; i++) x = (x + i * 7) & 1023;
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 5_000_000);
  }
  return x >= 0 ? Math.round(best * 1000) / 1000 : best;
}

/** One strategy with its own clock and job flow, kept across measurement rounds. */
function createRunner(
  strategyName: string,
  fleets: NodeSnapshot[][],
  requests: SelectionRequest[],
  cpuOverheadUs: number,
) {
  let t = 1_000_000;
  const strategy = createStrategy(strategyName, {
    gpuThreshold: 80,
    vramThreshold: 90,
    activeRequestThreshold: 10,
    rng: createSeededRng(1),
    now: () => t,
    prefixBlockTokens: 64,
  });
  const flowRng = createSeededRng(2);
  const open: { nodeId: string; at: number; prompt: number }[] = [];
  const candidates: NodeSnapshot[] = [];
  let step = 0;
  /** Makes `count` decisions; fills the `wall` and `cpu` samples (µs) when given. */
  return (count: number, wall?: Float64Array, cpu?: Float64Array) => {
    for (let i = 0; i < count; i++, step++) {
      const fleet = fleets[step % fleets.length] as NodeSnapshot[];
      const request = requests[step % requests.length] as SelectionRequest;
      t += 5;
      // What the control plane does right before select (untimed): online, serves the model,
      // has a free slot. It also leaves the snapshots as warm in cache as in production.
      candidates.length = 0;
      for (const node of fleet) {
        if (
          node.state === "online" &&
          node.models.has(request.model) &&
          node.inFlight < node.maxConcurrency
        ) {
          candidates.push(node);
        }
      }
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const selection = strategy.select(request, candidates);
      const t1 = process.hrtime.bigint();
      const c1 = process.cpuUsage(c0);
      if (wall !== undefined) wall[i] = Number(t1 - t0) / 1000;
      if (cpu !== undefined) cpu[i] = Math.max(0, c1.user + c1.system - cpuOverheadUs);
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

interface Summary {
  p50: number;
  p99: number;
  mean: number;
  max: number;
}

function summarise(samples: Float64Array): Summary {
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

const round2 = (x: number) => Math.round(x * 100) / 100;

/** Runs the selection benchmark, prints a table, writes JSON; returns the report. */
export async function runSelectBench(opts: SelectBenchOptions = {}): Promise<object> {
  const sizes = opts.nodes ?? [100, 1_000, 10_000];
  const iterations = opts.iterations ?? 2_000;
  const rounds = Math.max(1, opts.rounds ?? 3);
  const names = opts.strategies ?? [...STRATEGY_NAMES];
  // From the package root, not this module's URL: bundled, this code runs from dist/chunks/.
  const out = opts.out ?? path.join(PACKAGE_ROOT, "bench", "results", "select.json");
  const cpuOverheadUs = measureCpuOverhead();
  const calibrationNs = calibrate();
  const loadBefore = os.loadavg();
  const rows: SelectBenchRow[] = [];
  for (const size of sizes) {
    const rng = createSeededRng(size);
    const ordinals = new NodeOrdinals(); // one store per fleet size
    const registrations = Array.from({ length: size }, (_, i) => register(i, ordinals));
    const fleets = [0, 1, 2, 3].map((v) => buildFleet(size, registrations, v, rng));
    const requests = buildRequests(512, rng);
    const runners = names.map((name) => createRunner(name, fleets, requests, cpuOverheadUs));
    for (const run of runners) run(Math.max(200, iterations >> 2)); // warm-up: JIT and learned state
    // Rounds interleave the strategies and each figure is the median over rounds, so a burst of
    // load from another process on a shared machine skews one round, not the result.
    const perRound: { wall: Summary; cpu: Summary }[][] = names.map(() => []);
    const wall = new Float64Array(iterations);
    const cpu = new Float64Array(iterations);
    for (let r = 0; r < rounds; r++) {
      runners.forEach((run, k) => {
        run(iterations, wall, cpu);
        perRound[k]?.push({ wall: summarise(wall), cpu: summarise(cpu) });
      });
    }
    names.forEach((name, k) => {
      const stats = perRound[k] ?? [];
      rows.push({
        strategy: name,
        nodes: size,
        p50Us: round2(median(stats.map((x) => x.wall.p50))),
        p99Us: round2(median(stats.map((x) => x.wall.p99))),
        meanUs: round2(median(stats.map((x) => x.wall.mean))),
        maxUs: round2(Math.max(...stats.map((x) => x.wall.max))),
        cpuP50Us: round2(median(stats.map((x) => x.cpu.p50))),
        cpuP99Us: round2(median(stats.map((x) => x.cpu.p99))),
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
      loadAverageBefore: loadBefore.map(round2),
      loadAverageAfter: os.loadavg().map(round2),
      calibrationNsPerLoop: calibrationNs,
      cpuTimerOverheadUs: cpuOverheadUs,
    },
    iterations,
    rounds,
    targetsP99Us: TARGET_P99_US,
    rows,
  };
  printTable("wall clock", rows, sizes, names, (r) => [r.p50Us, r.p99Us]);
  printTable("on-CPU time", rows, sizes, names, (r) => [r.cpuP50Us, r.cpuP99Us]);
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
  const m = report.machine;
  console.log(
    `\n${m.cpu} (${m.cores} cores), Node ${m.node}, load ${m.loadAverageBefore[0]} → ${m.loadAverageAfter[0]}, ` +
      `calibration ${calibrationNs} ns/loop; wrote ${out}`,
  );
  return report;
}

function printTable(
  title: string,
  rows: SelectBenchRow[],
  sizes: number[],
  names: string[],
  pick: (row: SelectBenchRow) => [number, number],
): void {
  const header = [`${title}`, ...sizes.flatMap((s) => [`p50@${s} µs`, `p99@${s} µs`])];
  const lines = [header];
  for (const name of names) {
    const cells = [name];
    for (const size of sizes) {
      const row = rows.find((r) => r.strategy === name && r.nodes === size);
      if (row === undefined) {
        cells.push("-", "-");
        continue;
      }
      const [p50, p99] = pick(row);
      const target = TARGET_P99_US[size];
      cells.push(p50.toFixed(1), `${p99.toFixed(1)}${target !== undefined && p99 > target ? " !" : ""}`);
    }
    lines.push(cells);
  }
  const widths = header.map((_, c) => Math.max(...lines.map((l) => (l[c] ?? "").length)));
  console.log("");
  for (const line of lines) {
    console.log(
      line
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
        .join("  "),
    );
  }
  console.log("(! = p99 over target: 50 µs at 1,000 nodes, 1 ms at 10,000)");
}

function parseArgs(argv: string[]): SelectBenchOptions {
  const opts: SelectBenchOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    if (argv[i] === "--iterations" && value) opts.iterations = Number(value);
    if (argv[i] === "--rounds" && value) opts.rounds = Number(value);
    if (argv[i] === "--nodes" && value) opts.nodes = value.split(",").map(Number);
    if (argv[i] === "--out" && value) opts.out = value;
    if (argv[i] === "--strategies" && value) opts.strategies = value.split(",");
  }
  return opts;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runSelectBench(parseArgs(process.argv.slice(2)));
}
