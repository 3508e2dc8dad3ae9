// The simulated nvidia-smi: what GET /sim/gpu reports for the one simulated GPU.
import type { BusyMeter } from "./busy-meter.js";
import type { GpuProfile } from "./profiles.js";
import type { Capacity } from "./step-model.js";
import { hash53 } from "./text.js";

/** One GPU as GET /sim/gpu reports it (snake_case JSON, the agent's collector reads this shape). */
export interface SimGpuJson {
  readonly index: number;
  readonly uuid: string;
  readonly name: string;
  readonly vram_total_mib: number;
  readonly vram_used_mib: number;
  readonly utilization_percent: number;
  readonly temperature_celsius: number;
  readonly power_watts: number;
  readonly compute_capability: string;
  readonly driver_version: string;
}

/** Idle and fully loaded die temperatures, °C. */
const IDLE_CELSIUS = 34;
const LOAD_CELSIUS = 72;

/** A stable nvidia-smi-style UUID ("GPU-8-4-4-4-12" hex) derived from the seed, port and profile. */
export function simGpuUuid(seed: number, port: number, gpuKey: string): string {
  let hex = "";
  for (let part = 0; hex.length < 32; part++) {
    hex += hash53(`${gpuKey}:${port}:${part}`, seed).toString(16).padStart(14, "0").slice(-12);
  }
  return `GPU-${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Reads the simulated GPU. VRAM use is vLLM's pre-allocation (weights + the whole KV pool + runtime
 * reserve), constant while serving, as on a real node. Utilisation is the busy fraction of the last
 * second, like utilization.gpu which reads ~100% whenever kernels run back to back. Power and
 * temperature rise with it, more for compute-bound (prefill) steps than memory-bound decode.
 */
export function readSimGpu(
  gpu: GpuProfile,
  capacity: Capacity,
  busy: BusyMeter,
  uuid: string,
  now: number,
): SimGpuJson {
  const recent = busy.read(now, 1000);
  const slow = busy.read(now, 2000);
  const intensity = (share: number): number => 0.45 + 0.55 * share;
  const power = gpu.idleWatts + (gpu.tdpWatts - gpu.idleWatts) * recent.busy * intensity(recent.computeShare);
  const temperature = IDLE_CELSIUS + (LOAD_CELSIUS - IDLE_CELSIUS) * slow.busy * intensity(slow.computeShare);
  return {
    index: 0,
    uuid,
    name: gpu.name,
    vram_total_mib: gpu.vramMib,
    vram_used_mib: capacity.vramUsedMib,
    utilization_percent: Math.round(recent.busy * 100),
    temperature_celsius: Math.round(temperature),
    power_watts: Math.round(power * 100) / 100,
    compute_capability: gpu.computeCapability,
    driver_version: "sim",
  };
}
