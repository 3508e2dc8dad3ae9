import type { NodeSnapshot } from "../../nodes/types.js";
import { gpuUsageOf, isPercent, vramUsageOf } from "../node-figures.js";
import type { Filter } from "../pipeline.js";
import type { PluginParams } from "../plugin-kit.js";
import { numParam } from "../plugin-kit.js";

/**
 * Seed-000 fallback level a node's live figures allow:
 * 0 — GPU % and VRAM % known (full metrics);
 * 1 — one of them missing (the seed's "GPU read failed": VRAM + active requests);
 * 2 — both missing but the engine reports (active requests only);
 * 3 — nothing live at all (capability order + round robin).
 * Level 4 (everyone over threshold → pure round robin) is a property of the set, not of a node.
 */
export function metricsLevel(node: NodeSnapshot): 0 | 1 | 2 | 3 {
  return levelOf(gpuUsageOf(node), vramUsageOf(node), node);
}

/** metricsLevel, for a node whose GPU and VRAM figures were read already (NaN when absent). */
export function levelOf(gpuUsage: number, vramUsage: number, node: NodeSnapshot): 0 | 1 | 2 | 3 {
  const gpu = isPercent(gpuUsage);
  const vram = isPercent(vramUsage);
  if (gpu && vram) return 0;
  if (gpu || vram) return 1;
  return node.engine?.healthy === true ? 2 : 3;
}

/** Keeps nodes at exactly fallback level `level` (param, default 0). */
export function createMetricsLevelFilter(params?: PluginParams): Filter {
  const level = numParam(params, "level", 0);
  return {
    name: "metrics-level",
    filter(_request, input, n, output, slots, kept) {
      let m = 0;
      for (let i = 0; i < n; i++) {
        const node = input[i] as NodeSnapshot;
        if (metricsLevel(node) === level) {
          output[m] = node;
          kept[m++] = slots[i] as number;
        }
      }
      return m;
    },
  };
}
