import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { request, Agent as UndiciAgent } from "undici";
import { startAgentProcess, startSimProcess, stopProcess } from "../src/fleet/launcher.js";
import { startControlPlaneProcess } from "./lib/control-plane-process.js";
import { cpuTicks } from "./lib/proc.js";
import { printTable, writeJson } from "./lib/report.js";

const STREAMS = 100;
const MODEL = "llama-3.2-1b";
const TIME_SCALE = 0.1;

/** Clock ticks per second of /proc/<pid>/stat's utime/stime (USER_HZ; 100 on every common Linux). */
function clockTicks(): number {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
}

/**
 * Resident memory of a process in MiB from /proc/<pid>/status: VmRSS, and its two parts — RssAnon
 * (the process's own heap, stacks, malloc: what it really costs) and RssFile (pages of mapped files,
 * mostly the node binary's code, clean and shared with every other Node process on the host).
 */
function memoryMiB(pid: number): { rss: number; anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(status);
    return m ? Number(m[1]) / 1024 : Number.NaN;
  };
  return { rss: kib("VmRSS"), anon: kib("RssAnon"), file: kib("RssFile") };
}

interface Usage {
  cpuPercentOfCore: number;
  rssMeanMiB: number;
  rssMaxMiB: number;
  /** Mean RssAnon: private memory. */
  anonMeanMiB: number;
  /** Mean RssFile: mapped file pages (the node binary), shared. */
  fileMeanMiB: number;
  seconds: number;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** CPU (share of one core) and RSS of `pid` over `ms`, RSS sampled once a second. */
async function measure(pid: number, ms: number, hz: number, onTick?: () => Promise<void>): Promise<Usage> {
  const t0 = performance.now();
  const c0 = cpuTicks(pid);
  const mem = [memoryMiB(pid)];
  while (performance.now() - t0 < ms) {
    await new Promise((r) => setTimeout(r, Math.min(1000, ms - (performance.now() - t0))));
    mem.push(memoryMiB(pid));
    await onTick?.();
  }
  const rss = mem.map((m) => m.rss);
  const secs = (performance.now() - t0) / 1000;
  const cpuSecs = (cpuTicks(pid) - c0) / hz;
  return {
    cpuPercentOfCore: (cpuSecs / secs) * 100,
    rssMeanMiB: mean(rss),
    rssMaxMiB: Math.max(...rss),
    anonMeanMiB: mean(mem.map((m) => m.anon)),
    fileMeanMiB: mean(mem.map((m) => m.file)),
    seconds: secs,
  };
}

/**
 * Agent overhead (issue 7): CPU and RSS of an `llmlb agent` process with a 1 s heartbeat, idle and
 * while it relays 100 concurrent streams from a simulated engine, read from /proc (Linux only).
 * Targets: idle < 1% of one core and < 60 MB RSS.
 */
export async function runAgentBench(opts: { out?: string; quick?: boolean }): Promise<object> {
  const windowMs = opts.quick ? 8_000 : 20_000;
  const hz = clockTicks();
  const apiKey = `sk-bench-${randomBytes(8).toString("hex")}`;
  const nodeToken = `nt-bench-${randomBytes(8).toString("hex")}`;
  const cp = await startControlPlaneProcess(
    {
      LLMLB_API_KEYS: apiKey,
      LLMLB_NODE_TOKENS: nodeToken,
      LLMLB_LOG_LEVEL: "warn",
      LLMLB_DB: ":memory:",
      LLMLB_HEARTBEAT_SECS: "1",
    },
    ["--strategy", "least_connections"],
  );
  const spec = { id: "bench-agent", profile: "rtx4090", model: MODEL, maxNumSeqs: 256, maxConcurrency: 256 };
  // Time scale 1/10: the simulated RTX 4090 decodes 10x slower than the real one, so 512-token answers (~40 s each)
  // keep 100 streams running through the window at a token rate a busy 2-core box can relay (at
  // scale 1 the control plane fell behind the engine and the window measured a backlog, not streams).
  const sim = await startSimProcess(spec, TIME_SCALE);
  const agent = startAgentProcess(spec, sim.url, {
    serverUrl: cp.url,
    nodeToken,
    nodes: [spec],
    heartbeatSecs: 1,
    logLevel: "warn",
  });
  const pool = new UndiciAgent({ connections: STREAMS * 2, keepAliveTimeout: 30_000 });
  const rows: Record<string, string | number>[] = [];
  const results: Record<
    string,
    Usage & { completedStreams?: number; chunks?: number; engineRunningMin?: number; tokensPerSec?: number }
  > = {};
  try {
    await cp.waitForNodes(1, 60_000);
    const pid = agent.pid;
    if (pid === undefined) throw new Error("agent has no pid");
    // Start-up (first probes, registration) is measured on its own: its garbage stays in the heap
    // until V8's memory reducer runs the first full GC, ~8 s after start. Idle is what follows.
    results.startup = await measure(pid, opts.quick ? 5_000 : 10_000, hz);
    results.idle = await measure(pid, windowMs, hz);

    let stop = false;
    let completed = 0;
    let chunks = 0;
    let errors = 0;
    let firstError = "";
    const body = JSON.stringify({
      model: MODEL,
      messages: [{ role: "user", content: "Write a long story about a GPU." }],
      max_tokens: 512,
      ignore_eos: true,
      stream: true,
    });
    const worker = async () => {
      while (!stop) {
        try {
          const r = await request(`${cp.url}/v1/chat/completions`, {
            method: "POST",
            headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
            body,
            dispatcher: pool,
          });
          if (r.statusCode !== 200) {
            errors++;
            const text = await r.body.text();
            firstError ||= `HTTP ${r.statusCode}: ${text.slice(0, 200)}`;
            await new Promise((res) => setTimeout(res, 100));
            continue;
          }
          for await (const part of r.body) {
            chunks += (part as Buffer).toString().split("data: ").length - 1;
            if (stop) break;
          }
          completed++;
        } catch (err) {
          if (stop) continue;
          errors++;
          firstError ||= (err as Error).message;
          await new Promise((res) => setTimeout(res, 100));
        }
      }
    };
    const workers = Array.from({ length: STREAMS }, worker);
    // Wait until the engine really runs 100 streams before measuring.
    const deadline = Date.now() + 30_000;
    let running = 0;
    while (Date.now() < deadline) {
      const s = (await (await fetch(`${sim.url}/sim/state`)).json()) as { running: number };
      running = s.running;
      if (running >= STREAMS) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    // The engine's running count, sampled each second of the window, shows the load held.
    const runningSamples: number[] = [];
    const simState = async () =>
      (await (await fetch(`${sim.url}/sim/state`)).json()) as { running: number; generation_tokens: number };
    const tokens0 = (await simState()).generation_tokens;
    const loaded = await measure(pid, windowMs, hz, async () => {
      runningSamples.push((await simState()).running);
    });
    const minRunning = Math.min(...runningSamples);
    const tokensPerSec = ((await simState()).generation_tokens - tokens0) / loaded.seconds;
    if (firstError) console.log(`first error: ${firstError}`);
    stop = true;
    await Promise.race([Promise.all(workers), new Promise((r) => setTimeout(r, 5_000))]);
    results.streams100 = {
      ...loaded,
      completedStreams: completed,
      chunks,
      engineRunningMin: minRunning,
      tokensPerSec,
    };
    // Reference: what the runtime alone costs (a bare node process with a 1 s timer), so the
    // agent's own share can be read off.
    const ref = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000);"], { stdio: "ignore" });
    try {
      await new Promise((r) => setTimeout(r, 5_000));
      if (ref.pid !== undefined) results.runtimeOnly = await measure(ref.pid, Math.min(windowMs, 5_000), hz);
    } finally {
      await stopProcess(ref);
    }
    if (results.runtimeOnly)
      rows.push(row("reference: bare node process", results.runtimeOnly, "no agent code loaded"));
    if (results.startup)
      rows.push(
        row(
          "agent start-up, 10 s after registering",
          results.startup,
          "registered; start-up garbage not yet collected",
        ),
      );
    rows.push(row("agent idle, 1 s heartbeat", results.idle, "engine: sim (probe + heartbeat each second)"));
    rows.push(
      row(
        `${STREAMS} concurrent streams`,
        loaded,
        `engine running ${running} at start, min ${minRunning}; ${Math.round(tokensPerSec)} tok/s; ${errors} errors`,
      ),
    );
  } finally {
    await pool.close().catch(() => {});
    await stopProcess(agent);
    await stopProcess(sim.proc);
    await cp.stop();
  }
  printTable("agent overhead (one llmlb agent process, from /proc)", rows);
  const idle = results.idle;
  const verdict = idle
    ? `idle CPU ${idle.cpuPercentOfCore.toFixed(2)}% of a core (target < 1%), RSS ${idle.rssMeanMiB.toFixed(1)} MiB mean, ${idle.rssMaxMiB.toFixed(1)} MiB max = ${((idle.rssMaxMiB * 1048576) / 1e6).toFixed(1)} MB (target < 60 MB), of which private ${idle.anonMeanMiB.toFixed(1)} MiB and node binary pages ${idle.fileMeanMiB.toFixed(1)} MiB`
    : "";
  console.log(verdict);
  const out = {
    simTimeScale: TIME_SCALE,
    windowSeconds: windowMs / 1000,
    heartbeatSecs: 1,
    streams: STREAMS,
    results,
    targets: { idleCpuPercent: 1, rssMB: 60 },
  };
  writeJson(opts.out ?? "bench/results/agent.json", out);
  return out;
}

function row(phase: string, u: Usage, note: string): Record<string, string | number> {
  return {
    phase,
    "cpu % of core": Number(u.cpuPercentOfCore.toFixed(2)),
    "rss mean MiB": Number(u.rssMeanMiB.toFixed(1)),
    "rss max MiB": Number(u.rssMaxMiB.toFixed(1)),
    "anon MiB": Number(u.anonMeanMiB.toFixed(1)),
    "file MiB": Number(u.fileMeanMiB.toFixed(1)),
    "window s": Number(u.seconds.toFixed(1)),
    note,
  };
}

// `npx tsx bench/agent.ts [--quick]` runs it directly.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await runAgentBench({ quick: process.argv.includes("--quick") });
  process.exit(0);
}
