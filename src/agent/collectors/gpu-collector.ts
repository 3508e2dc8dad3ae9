import type { Logger } from "pino";
import { findExecutable } from "./find-executable.js";
import { createNvidiaSmiCollector } from "./nvidia-smi.js";
import { createRocmSmiCollector } from "./rocm-smi.js";
import type { GpuCollector, GpuReading } from "./types.js";

/** Options of createGpuCollector. */
export interface GpuCollectorOptions {
  /** "auto" tries nvidia-smi, then rocm-smi, then none. */
  kind: "auto" | "nvidia" | "amd" | "none";
  intervalMs: number;
  /** Default "nvidia-smi", looked up on PATH; a path with a slash is used as is. */
  nvidiaSmiPath?: string;
  /** Default "rocm-smi", looked up on PATH. */
  rocmSmiPath?: string;
  logger?: Logger;
  /** Silence of this many intervals means nvidia-smi hung (default 5). */
  hangAfterIntervals?: number;
  /** Upper bound on how long start() waits for the first reading (default 10 s). */
  startTimeoutMs?: number;
}

/** A collector that never has figures, only a note saying why. */
export function createNoGpuCollector(note: string): GpuCollector {
  return {
    start: () => Promise.resolve(),
    latest: (): GpuReading => ({
      source: "none",
      note,
      facts: [],
      samples: [],
      ageMs: Number.POSITIVE_INFINITY,
    }),
    stop: () => Promise.resolve(),
  };
}

function notFound(tool: string, configured: string | undefined): string {
  return configured?.includes("/") ? `${tool} not found at ${configured}` : `${tool} not found on PATH`;
}

/**
 * Picks the GPU collector for this host. The tool is looked up when start() runs, so a missing tool
 * gives source "none" with a note instead of a spawn error.
 */
export function createGpuCollector(opts: GpuCollectorOptions): GpuCollector {
  let inner: GpuCollector = createNoGpuCollector("GPU collector not started");
  let started: Promise<void> | undefined;

  const choose = (): GpuCollector => {
    if (opts.kind === "none") return createNoGpuCollector("GPU telemetry disabled");
    const nvidiaName = opts.nvidiaSmiPath ?? "nvidia-smi";
    const rocmName = opts.rocmSmiPath ?? "rocm-smi";
    const nvidia = opts.kind === "amd" ? undefined : findExecutable(nvidiaName);
    if (nvidia !== undefined) {
      return createNvidiaSmiCollector({
        path: nvidia,
        intervalMs: opts.intervalMs,
        ...(opts.logger && { logger: opts.logger.child({ collector: "nvidia-smi" }) }),
        ...(opts.hangAfterIntervals !== undefined && { hangAfterIntervals: opts.hangAfterIntervals }),
        ...(opts.startTimeoutMs !== undefined && { startTimeoutMs: opts.startTimeoutMs }),
      });
    }
    if (opts.kind === "nvidia") return createNoGpuCollector(notFound("nvidia-smi", opts.nvidiaSmiPath));
    const rocm = findExecutable(rocmName);
    if (rocm !== undefined) {
      return createRocmSmiCollector({
        path: rocm,
        intervalMs: opts.intervalMs,
        ...(opts.logger && { logger: opts.logger.child({ collector: "rocm-smi" }) }),
        ...(opts.startTimeoutMs !== undefined && { startTimeoutMs: opts.startTimeoutMs }),
      });
    }
    if (opts.kind === "amd") return createNoGpuCollector(notFound("rocm-smi", opts.rocmSmiPath));
    return createNoGpuCollector(
      `no GPU tool found: ${notFound("nvidia-smi", opts.nvidiaSmiPath)}, ${notFound("rocm-smi", opts.rocmSmiPath)}`,
    );
  };

  return {
    start() {
      if (started) return started;
      inner = choose();
      opts.logger?.info({ source: inner.latest().source }, "GPU collector selected");
      started = inner.start();
      return started;
    },
    latest: () => inner.latest(),
    stop: () => inner.stop(),
    stats: () =>
      inner.stats?.() ?? { restarts: 0, hangs: 0, garbageLines: 0, droppedFields: [], lastError: "" },
  };
}
