import { cpus, freemem, totalmem } from "node:os";

/** Host CPU and memory use in percent; a figure is absent when it cannot be computed yet. */
export interface HostSample {
  cpuPercent?: number;
  memoryPercent?: number;
}

interface CpuTimes {
  idle: number;
  total: number;
}

function cpuTimes(): CpuTimes {
  let idle = 0;
  let total = 0;
  for (const cpu of cpus()) {
    const t = cpu.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { idle, total };
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

/**
 * Samples host load. CPU % is the busy share of all cores since the previous sample (or since
 * creation for the first one): os.cpus() only gives cumulative times, so a single read says nothing.
 * Memory % uses os.freemem(), which on Linux is MemAvailable (libuv ≥ 1.45), not MemFree: page
 * cache counts as available.
 */
export function createHostCollector(): { sample(): HostSample } {
  let previous = cpuTimes();
  return {
    sample() {
      const now = cpuTimes();
      const total = now.total - previous.total;
      const idle = now.idle - previous.idle;
      const out: HostSample = {};
      // No ticks elapsed (two samples in the same clock tick): keep the old baseline, report nothing.
      if (total > 0) {
        out.cpuPercent = round1(Math.min(100, Math.max(0, (1 - idle / total) * 100)));
        previous = now;
      }
      const memTotal = totalmem();
      if (memTotal > 0)
        out.memoryPercent = round1(Math.min(100, Math.max(0, (1 - freemem() / memTotal) * 100)));
      return out;
    },
  };
}
