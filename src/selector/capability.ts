import type { GpuFacts, NodeSnapshot } from "../nodes/types.js";
import { gpuSpec } from "./gpu-table.js";

/** VRAM in whole GB as the seeds count it: a 24,564 MiB RTX 4090 is a "24 GB" card, not 23.99. */
export function vramGb(vramMib: number): number {
  return Number.isFinite(vramMib) && vramMib > 0 ? Math.round(vramMib / 1024) : 0;
}

/**
 * Seed-000 GPU capability score of one GPU: VRAM(GB) × 100 + compute boost
 * (RTX 4090 24 GB → 2800, RTX 3090 → 2500, RTX 3080 10 GB → 1200).
 */
export function capabilityScore(gpuName: string, vramMib: number): number {
  return vramGb(vramMib) * 100 + gpuSpec(gpuName).boost;
}

// GpuFacts arrays come from registration and are reused by every snapshot of a node, so the
// score is computed once per node rather than once per decision.
const cache = new WeakMap<readonly GpuFacts[], number>();

/** Capability of a whole node: the sum over its GPUs (two 4090s outrank one). 0 without GPUs. */
export function nodeCapability(node: NodeSnapshot): number {
  const gpus = node.gpus;
  const hit = cache.get(gpus);
  if (hit !== undefined) return hit;
  let sum = 0;
  for (const gpu of gpus) sum += capabilityScore(gpu.name, gpu.vramTotalMib);
  cache.set(gpus, sum);
  return sum;
}

/** Total VRAM of a node in MiB (0 when it reports no GPU). */
export function nodeVramMib(node: NodeSnapshot): number {
  let sum = 0;
  for (const gpu of node.gpus)
    if (Number.isFinite(gpu.vramTotalMib) && gpu.vramTotalMib > 0) sum += gpu.vramTotalMib;
  return sum;
}
