import { type ChildProcess, execFile } from "node:child_process";
import type { Logger } from "pino";
import type { GpuFacts, GpuLive } from "../../nodes/types.js";
import { terminate } from "./child-process.js";
import { parseRocmSmiJson } from "./rocm-smi-parse.js";
import type { GpuCollector, GpuCollectorStats, GpuReading } from "./types.js";

/** Flags of one rocm-smi poll (it has no loop mode). */
export const ROCM_SMI_ARGS = [
  "--showuse",
  "--showmeminfo",
  "vram",
  "--showtemp",
  "--showpower",
  "--showproductname",
  "--showuniqueid",
  "--showdriverversion",
  "--json",
] as const;

/** Options of the rocm-smi polling collector. */
export interface RocmSmiCollectorOptions {
  path: string;
  intervalMs: number;
  /** Kill a poll that takes longer than this (default max(5 s, 2 intervals)). */
  timeoutMs?: number;
  /** Samples older than this many intervals are stale (default 5). */
  staleAfterIntervals?: number;
  /** Upper bound on how long start() waits for the first reading (default 10 s). */
  startTimeoutMs?: number;
  logger?: Logger;
}

/**
 * Polls rocm-smi every interval (rocm-smi is a Python script with no loop mode, so each poll is a
 * process). Polls never overlap: the next starts an interval after the previous one ended.
 */
export function createRocmSmiCollector(opts: RocmSmiCollectorOptions): GpuCollector & {
  stats(): GpuCollectorStats;
} {
  const intervalMs = Math.max(10, Math.round(opts.intervalMs));
  const timeoutMs = opts.timeoutMs ?? Math.max(5_000, 2 * intervalMs);
  const staleAfterMs = intervalMs * (opts.staleAfterIntervals ?? 5) + timeoutMs;
  const startTimeoutMs = opts.startTimeoutMs ?? 10_000;
  const stats: GpuCollectorStats = {
    restarts: 0,
    hangs: 0,
    garbageLines: 0,
    droppedFields: [],
    lastError: "",
  };

  let facts: GpuFacts[] = [];
  let samples: GpuLive[] = [];
  let atMs: number | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: ChildProcess | undefined;
  let started: Promise<void> | undefined;
  let failures = 0;

  const poll = (onDone: () => void): void => {
    running = execFile(
      opts.path,
      [...ROCM_SMI_ARGS],
      { timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 4 * 1024 * 1024, windowsHide: true },
      (err, stdout, stderr) => {
        running = undefined;
        if (stopped) return onDone();
        // rocm-smi may exit non-zero after printing valid JSON (warnings), so try stdout first.
        try {
          const parsed = parseRocmSmiJson(stdout);
          facts = parsed.facts;
          samples = parsed.samples;
          atMs = Date.now();
          failures = 0;
          stats.lastError = "";
        } catch (parseErr) {
          failures += 1;
          const killed = err !== null && (err as { killed?: boolean }).killed === true;
          if (killed) stats.hangs += 1;
          else if (stdout.trim() !== "") stats.garbageLines += 1;
          stats.lastError = killed
            ? `rocm-smi took longer than ${timeoutMs} ms and was killed`
            : `rocm-smi: ${(stderr.trim().split("\n").pop() ?? "") || (err?.message ?? (parseErr as Error).message)}`;
          if (failures === 1 || failures % 10 === 0)
            opts.logger?.warn({ failures, reason: stats.lastError }, "rocm-smi poll failed");
        }
        onDone();
      },
    );
  };

  const loop = (): void => {
    if (stopped) return;
    poll(() => {
      if (stopped) return;
      timer = setTimeout(loop, intervalMs);
      timer.unref();
    });
  };

  return {
    start() {
      if (started) return started;
      started = new Promise<void>((resolve) => {
        const guard = setTimeout(resolve, startTimeoutMs);
        poll(() => {
          clearTimeout(guard);
          resolve();
          if (stopped) return;
          timer = setTimeout(loop, intervalMs);
          timer.unref();
        });
      });
      return started;
    },
    latest(): GpuReading {
      const ageMs = atMs === undefined ? Number.POSITIVE_INFINITY : Date.now() - atMs;
      const fresh = ageMs <= staleAfterMs;
      const parts: string[] = [];
      if (atMs === undefined) parts.push("no rocm-smi reading yet");
      else if (!fresh) parts.push(`stale: no rocm-smi reading for ${Math.round(ageMs)} ms`);
      if (stats.lastError !== "") parts.push(`last: ${stats.lastError}`);
      return { source: "rocm-smi", note: parts.join("; "), facts, samples: fresh ? samples : [], ageMs };
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      if (running) await terminate(running, 500);
    },
    stats() {
      return { ...stats, droppedFields: [] };
    },
  };
}
