export { createGpuCollector, createNoGpuCollector, type GpuCollectorOptions } from "./gpu-collector.js";
export { createHostCollector, type HostSample } from "./host.js";
export type { GpuCollector, GpuCollectorStats, GpuReading, GpuSourceName } from "./types.js";
