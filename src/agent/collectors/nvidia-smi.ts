import { type ChildProcess, spawn } from "node:child_process";
import type { Logger } from "pino";
import { hasExited, terminate } from "./child-process.js";
import { createLineSplitter } from "./line-splitter.js";
import {
  NVIDIA_QUERY_FIELDS,
  NVIDIA_REQUIRED_FIELDS,
  type NvidiaRow,
  parseNvidiaRow,
  rejectedNvidiaField,
} from "./nvidia-smi-parse.js";
import type { GpuCollector, GpuCollectorStats, GpuReading } from "./types.js";

/** Options of the nvidia-smi loop collector. */
export interface NvidiaSmiCollectorOptions {
  /** Executable to run (already resolved, or a bare name looked up on PATH by spawn). */
  path: string;
  /** Loop period passed as `-lms`. */
  intervalMs: number;
  /** Silence of this many intervals means hung (default 5). Also the staleness bound of samples. */
  hangAfterIntervals?: number;
  /** Extra patience for a new process's first line: NVML init can take seconds without persistence mode. */
  firstOutputGraceMs?: number;
  /** Upper bound on how long start() waits for the first reading (default 10 s). */
  startTimeoutMs?: number;
  /** Ceiling of the exponential restart backoff (default 30 s). */
  maxBackoffMs?: number;
  logger?: Logger;
}

interface GpuEntry {
  row: NvidiaRow;
  atMs: number;
}

/** Logs the first garbage line and then every this-many, so a chatty broken tool cannot flood logs. */
const GARBAGE_LOG_EVERY = 100;

/**
 * Runs ONE long-lived `nvidia-smi --query-gpu=… --format=csv,noheader,nounits -lms N` and keeps
 * the newest row per GPU index. A spawn per heartbeat costs ~35 ms on an H100 host
 * (fixtures/gpu/nvidia-h100/nvsmi-timing.txt); loop mode costs one NVML init.
 * Exits restart with exponential backoff; silence for N intervals is a hang (kill, restart);
 * unparsable lines are counted; fields an old driver rejects are dropped from the query.
 */
export function createNvidiaSmiCollector(opts: NvidiaSmiCollectorOptions): GpuCollector & {
  stats(): GpuCollectorStats;
} {
  const intervalMs = Math.max(10, Math.round(opts.intervalMs));
  const hangAfterMs = intervalMs * Math.max(2, opts.hangAfterIntervals ?? 5);
  const firstOutputGraceMs = Math.max(hangAfterMs, opts.firstOutputGraceMs ?? 10_000);
  const startTimeoutMs = opts.startTimeoutMs ?? 10_000;
  const maxBackoffMs = Math.max(intervalMs, opts.maxBackoffMs ?? 30_000);
  const log = opts.logger;

  let fields: string[] = [...NVIDIA_QUERY_FIELDS];
  const gpus = new Map<number, GpuEntry>();
  const stats: GpuCollectorStats = {
    restarts: 0,
    hangs: 0,
    garbageLines: 0,
    droppedFields: [],
    lastError: "",
  };
  const dying = new Set<ChildProcess>();

  let child: ChildProcess | undefined;
  let childStartedAtMs = 0;
  let childHasOutput = false;
  let lastOutputAtMs = 0;
  let stderrTail = "";
  let rejectedField: string | undefined;
  let backoffMs = intervalMs;
  let restartTimer: NodeJS.Timeout | undefined;
  let watchdog: NodeJS.Timeout | undefined;
  let started: Promise<void> | undefined;
  let stopped = false;
  let resolveFirst: () => void = () => {};

  const countGarbage = (line: string): void => {
    stats.garbageLines += 1;
    if (stats.garbageLines % GARBAGE_LOG_EVERY === 1) {
      log?.warn(
        { line: line.slice(0, 200), garbageLines: stats.garbageLines },
        "nvidia-smi printed an unparsable line",
      );
    }
  };

  const onLine = (line: string): void => {
    if (line.trim() === "") return;
    const rejected = rejectedNvidiaField(line);
    if (rejected !== undefined) {
      rejectedField = rejected;
      return;
    }
    const row = parseNvidiaRow(fields, line);
    if (!row) {
      countGarbage(line);
      return;
    }
    gpus.set(row.facts.index, { row, atMs: Date.now() });
    resolveFirst();
  };

  /**
   * Restarts after the current backoff, then doubles it. A process that had run for a while
   * (10 intervals) resets the backoff first: only a crash loop should wait longer and longer.
   */
  const restartWithBackoff = (): void => {
    if (Date.now() - childStartedAtMs >= 10 * intervalMs) backoffMs = intervalMs;
    scheduleRestart(backoffMs);
    backoffMs = Math.min(backoffMs * 2, maxBackoffMs);
  };

  const scheduleRestart = (delayMs: number): void => {
    if (stopped || restartTimer) return;
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      if (!stopped) spawnChild();
    }, delayMs);
    restartTimer.unref();
  };

  const onChildGone = (proc: ChildProcess, why: string): void => {
    if (proc !== child) return; // a child we already gave up on (hang) or replaced
    child = undefined;
    if (stopped) return;
    if (rejectedField !== undefined) {
      const field = rejectedField;
      rejectedField = undefined;
      if (!NVIDIA_REQUIRED_FIELDS.includes(field) && fields.includes(field)) {
        // Older drivers (e.g. 470 has no compute_cap) refuse the whole query for one unknown field.
        fields = fields.filter((f) => f !== field);
        stats.droppedFields.push(field);
        log?.warn({ field }, "nvidia-smi rejected a query field; querying without it");
        scheduleRestart(0);
        return;
      }
      stats.lastError = `nvidia-smi rejects the required field "${field}"`;
    } else {
      stats.lastError = `nvidia-smi ${why}${stderrTail === "" ? "" : `: ${stderrTail}`}`;
    }
    stats.restarts += 1;
    log?.warn({ restarts: stats.restarts, reason: stats.lastError }, "nvidia-smi stopped; restarting");
    // A tool that fails before its first row (broken driver) will not give one soon: let start() go.
    resolveFirst();
    restartWithBackoff();
  };

  const spawnChild = (): void => {
    const args = [
      `--query-gpu=${fields.join(",")}`,
      "--format=csv,noheader,nounits",
      "-lms",
      String(intervalMs),
    ];
    const proc = spawn(opts.path, args, { stdio: ["ignore", "pipe", "pipe"], windowsHide: true });
    child = proc;
    childStartedAtMs = Date.now();
    childHasOutput = false;
    lastOutputAtMs = Date.now();
    stderrTail = "";
    rejectedField = undefined;
    const splitter = createLineSplitter(onLine, () => countGarbage("<line over 64 KiB>"));
    proc.stdout?.setEncoding("utf8");
    proc.stdout?.on("data", (chunk: string) => {
      if (proc !== child) return;
      lastOutputAtMs = Date.now();
      childHasOutput = true;
      splitter.push(chunk);
    });
    proc.stderr?.setEncoding("utf8");
    proc.stderr?.on("data", (chunk: string) => {
      if (proc !== child) return;
      lastOutputAtMs = Date.now();
      const last = chunk.trim().split("\n").pop()?.trim();
      if (last) stderrTail = last.slice(0, 300);
    });
    proc.on("error", (err) => {
      // A failed spawn emits "error" and may never emit "close".
      if (proc.pid === undefined) onChildGone(proc, `could not start (${err.message})`);
    });
    proc.on("close", (code, signal) => {
      splitter.flush();
      onChildGone(proc, code === null ? `was killed by ${signal}` : `exited with code ${code}`);
    });
  };

  const checkHang = (): void => {
    const proc = child;
    if (!proc || stopped) return;
    const silentMs = Date.now() - lastOutputAtMs;
    if (silentMs <= (childHasOutput ? hangAfterMs : firstOutputGraceMs)) return;
    stats.hangs += 1;
    stats.restarts += 1;
    stats.lastError = `nvidia-smi printed nothing for ${silentMs} ms (hung); killed and restarted`;
    log?.warn({ hangs: stats.hangs, silentMs }, "nvidia-smi hung; killing and restarting");
    child = undefined;
    dying.add(proc);
    proc.once("exit", () => dying.delete(proc));
    if (hasExited(proc)) dying.delete(proc);
    proc.kill("SIGKILL");
    proc.stdout?.destroy();
    proc.stderr?.destroy();
    restartWithBackoff();
  };

  const note = (fresh: number, newestAgeMs: number): string => {
    const parts: string[] = [];
    if (gpus.size === 0) parts.push(stopped ? "stopped" : "no nvidia-smi output yet");
    else if (fresh < gpus.size) parts.push(`stale: no nvidia-smi row for ${Math.round(newestAgeMs)} ms`);
    if (!child && restartTimer) parts.push("nvidia-smi is restarting");
    for (const { row } of gpus.values()) {
      if (row.migEnabled) parts.push(`MIG enabled on GPU ${row.facts.index}: utilization not reported`);
    }
    if (stats.hangs > 0) parts.push(`${stats.hangs} hang(s)`);
    if (stats.restarts > 0) parts.push(`${stats.restarts} restart(s)`);
    if (stats.garbageLines > 0) parts.push(`${stats.garbageLines} garbage line(s) ignored`);
    if (stats.droppedFields.length > 0) parts.push(`driver rejected: ${stats.droppedFields.join(", ")}`);
    if (stats.lastError !== "" && (stats.restarts > 0 || gpus.size === 0))
      parts.push(`last: ${stats.lastError}`);
    return parts.join("; ");
  };

  return {
    start() {
      if (started) return started;
      started = new Promise<void>((resolve) => {
        const timer = setTimeout(() => resolveFirst(), startTimeoutMs);
        resolveFirst = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      spawnChild();
      watchdog = setInterval(checkHang, Math.max(10, Math.round(intervalMs / 2)));
      watchdog.unref();
      return started;
    },
    latest(): GpuReading {
      const now = Date.now();
      const entries = [...gpus.values()].sort((a, b) => a.row.facts.index - b.row.facts.index);
      const newest = entries.reduce((m, e) => Math.max(m, e.atMs), Number.NEGATIVE_INFINITY);
      const ageMs = entries.length === 0 ? Number.POSITIVE_INFINITY : now - newest;
      const fresh = entries.filter((e) => now - e.atMs <= hangAfterMs);
      return {
        source: "nvidia-smi",
        note: note(fresh.length, ageMs),
        facts: entries.map((e) => e.row.facts),
        samples: fresh.map((e) => e.row.live),
        ageMs,
      };
    },
    async stop() {
      stopped = true;
      clearTimeout(restartTimer);
      restartTimer = undefined;
      clearInterval(watchdog);
      resolveFirst();
      const procs = [...dying];
      if (child) procs.push(child);
      child = undefined;
      await Promise.all(procs.map((p) => terminate(p)));
    },
    stats() {
      return { ...stats, droppedFields: [...stats.droppedFields] };
    },
  };
}
