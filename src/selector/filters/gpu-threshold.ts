import type { NodeSnapshot } from "../../nodes/types.js";
import { gpuUsageOf } from "../node-figures.js";
import type { Filter } from "../pipeline.js";
import type { PluginEnv, PluginParams } from "../plugin-kit.js";
import { numParam } from "../plugin-kit.js";

/**
 * Seed 000 step 2: keeps nodes whose GPU utilisation is ≤ `threshold` % (default: the operator's
 * LLMLB_GPU_THRESHOLD, 80). An unknown or out-of-range figure passes: the level filter before
 * it decides what "unknown" means.
 */
export function createGpuThresholdFilter(params: PluginParams | undefined, env: PluginEnv): Filter {
  const threshold = numParam(params, "threshold", env.gpuThreshold);
  return {
    name: "gpu-threshold",
    filter(_request, input, n, output, slots, kept) {
      let m = 0;
      for (let i = 0; i < n; i++) {
        const node = input[i] as NodeSnapshot;
        const gpu = gpuUsageOf(node);
        // Written as "not over" so an absent figure (NaN) passes, like every unknown figure here.
        if (!(gpu > threshold && gpu <= 100)) {
          output[m] = node;
          kept[m++] = slots[i] as number;
        }
      }
      return m;
    },
  };
}
