import type { NodeSnapshot } from "../../nodes/types.js";
import { nodeVramMib } from "../capability.js";
import { costPerHour, percent, slotLoad } from "../node-figures.js";
import type { Scorer } from "../pipeline.js";
import type { PluginEnv } from "../plugin-kit.js";
import type { SelectionRequest } from "../types.js";
import { adjustedLatencyMs, knownLatencyMs } from "./adjusted-latency.js";

/**
 * Fraction of the request's seed-003 requirements a node meets (gpuMemoryGb, maxCostPerHourUsd,
 * maxLatencyMs); 1 when the request states none. Unknown figures count as met.
 */
export function requirementMatch(request: SelectionRequest, node: NodeSnapshot, env: PluginEnv): number {
  const req = request.requirements;
  if (req === undefined) return 1;
  let asked = 0;
  let met = 0;
  if (req.gpuMemoryGb !== undefined && Number.isFinite(req.gpuMemoryGb)) {
    asked++;
    if (nodeVramMib(node) >= req.gpuMemoryGb * 1024) met++;
  }
  if (req.maxCostPerHourUsd !== undefined && Number.isFinite(req.maxCostPerHourUsd)) {
    asked++;
    const cost = costPerHour(node);
    if (cost === undefined || cost <= req.maxCostPerHourUsd) met++;
  }
  if (req.maxLatencyMs !== undefined && Number.isFinite(req.maxLatencyMs)) {
    asked++;
    const avg = knownLatencyMs(node, env.fleet);
    if (avg === undefined || adjustedLatencyMs(node, avg) <= req.maxLatencyMs) met++;
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
    score(request, nodes, n, out) {
      for (let i = 0; i < n; i++) {
        const node = nodes[i] as NodeSnapshot;
        const gpu = percent(node.gpuUsagePercent);
        const vram = percent(node.vramUsagePercent);
        const slots = 1 - slotLoad(node);
        const gpuScore = gpu === undefined ? 0.5 : (100 - gpu) / 100;
        const vramScore = vram === undefined ? 0.5 : (100 - vram) / 100;
        out[i] = (slots + vramScore + gpuScore + requirementMatch(request, node, env)) / 4;
      }
    },
  };
}
