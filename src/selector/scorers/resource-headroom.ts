import type { NodeSnapshot } from "../../nodes/types.js";
import { nodeVramMib } from "../capability.js";
import { costPerHour, gpuUsageOf, isPercent, slotLoad, vramUsageOf } from "../node-figures.js";
import type { Scorer } from "../pipeline.js";
import type { PluginEnv } from "../plugin-kit.js";
import type { SelectionRequest } from "../types.js";
import { adjustedLatencyMs, latencyOf } from "./adjusted-latency.js";

/**
 * Fraction of the request's seed-003 requirements a node meets (gpuMemoryGb, maxCostPerHourUsd,
 * maxLatencyMs); 1 when the request states none. Unknown figures count as met. `slot` (the
 * node's candidate position, when known) reads its registration facts from the cache.
 */
export function requirementMatch(
  request: SelectionRequest,
  node: NodeSnapshot,
  env: PluginEnv,
  slot = -1,
): number {
  const req = request.requirements;
  if (req === undefined) return 1;
  const facts = env.fleet.facts;
  let asked = 0;
  let met = 0;
  if (req.gpuMemoryGb !== undefined && Number.isFinite(req.gpuMemoryGb)) {
    asked++;
    const vram = slot >= 0 ? facts.vramMibAt(slot, node) : nodeVramMib(node);
    if (vram >= req.gpuMemoryGb * 1024) met++;
  }
  if (req.maxCostPerHourUsd !== undefined && Number.isFinite(req.maxCostPerHourUsd)) {
    asked++;
    const cost = slot >= 0 ? facts.costAt(slot, node) : (costPerHour(node) ?? Number.NaN);
    if (Number.isNaN(cost) || cost <= req.maxCostPerHourUsd) met++;
  }
  if (req.maxLatencyMs !== undefined && Number.isFinite(req.maxLatencyMs)) {
    asked++;
    const avg = latencyOf(node, env.fleet, slot);
    if (Number.isNaN(avg) || adjustedLatencyMs(node, avg) <= req.maxLatencyMs) met++;
  }
  return asked === 0 ? 1 : met / asked;
}

/**
 * Seed 003 resource_aware: the mean of four headrooms, as the seed averages cpu, memory, gpu and
 * requirement scores. Ours: slot headroom (1 − in-flight/limit, standing in for CPU), VRAM
 * headroom, GPU headroom (0.5 when unknown, as the seed scores a GPU-less node) and the
 * requirement match.
 */
export function createResourceHeadroomScorer(_params: unknown, env: PluginEnv): Scorer {
  return {
    name: "resource-headroom",
    score(request, nodes, n, out, slots) {
      const stated = request.requirements !== undefined;
      for (let i = 0; i < n; i++) {
        const node = nodes[i] as NodeSnapshot;
        const gpu = gpuUsageOf(node);
        const vram = vramUsageOf(node);
        const free = 1 - slotLoad(node);
        const gpuScore = isPercent(gpu) ? (100 - gpu) / 100 : 0.5;
        const vramScore = isPercent(vram) ? (100 - vram) / 100 : 0.5;
        const match = stated ? requirementMatch(request, node, env, slots[i] as number) : 1;
        out[i] = (free + vramScore + gpuScore + match) / 4;
      }
    },
  };
}
