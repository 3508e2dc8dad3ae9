import type { GpuFacts, GpuLive } from "../../nodes/types.js";

/** Where a GPU reading came from. */
export type GpuSourceName = "none" | "nvidia-smi" | "rocm-smi" | "simulated";

/** One snapshot of the host's GPUs as the agent sees them. */
export interface GpuReading {
  source: GpuSourceName;
  /** Human-readable state: why there are no figures, restarts, hangs, garbage; "" when all is well. */
  note: string;
  facts: GpuFacts[];
  /** Fresh live figures only: empty while the tool is hung, restarting or missing. */
  samples: GpuLive[];
  /** ms since the newest sample; Infinity if none */
  ageMs: number;
}

/** Counters a collector keeps about its tool, for logs, notes and tests. */
export interface GpuCollectorStats {
  /** Times the tool was started again after it exited or hung. */
  restarts: number;
  /** Times the tool printed nothing for too long and was killed. */
  hangs: number;
  /** Output lines that could not be parsed (ignored, never fatal). */
  garbageLines: number;
  /** Query fields dropped because the driver rejected them (older nvidia-smi). */
  droppedFields: string[];
  /** The last problem seen ("" if none). */
  lastError: string;
}

/** A source of GPU readings with a start/stop lifecycle. */
export interface GpuCollector {
  /** Resolves once the first reading is in, the tool is known missing, or a bounded wait has passed. */
  start(): Promise<void>;
  /** The newest reading; never throws. */
  latest(): GpuReading;
  /** Stops timers and kills any child process; nothing is left running. */
  stop(): Promise<void>;
  /** Tool health counters (absent for collectors without a tool). */
  stats?(): GpuCollectorStats;
}
