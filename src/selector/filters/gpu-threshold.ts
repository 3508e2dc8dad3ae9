import { percent } from "../node-figures.js";
import type { Filter } from "../pipeline.js";
import type { PluginEnv, PluginParams } from "../plugin-kit.js";
import { numParam } from "../plugin-kit.js";

/**
 * Seed 000 step 2: keeps nodes whose GPU utilisation is ≤ `threshold` % (default: the operator's
 * LLMLB_GPU_THRESHOLD, 80). An unknown figure passes: the level filter decides what unknown means.
 */
export function createGpuThresholdFilter(params: PluginParams | undefined, env: PluginEnv): Filter {
  const threshold = numParam(params, "threshold", env.gpuThreshold);
  return {
    name: "gpu-threshold",
    keep: (_request, node) => {
      const gpu = percent(node.gpuUsagePercent);
      return gpu === undefined || gpu <= threshold;
    },
  };
}
