import type { NodeSnapshot } from "../../nodes/types.js";
import { vramUsageOf } from "../node-figures.js";
import type { Filter } from "../pipeline.js";
import type { PluginEnv, PluginParams } from "../plugin-kit.js";
import { numParam } from "../plugin-kit.js";

/**
 * Seed 000 step 3: keeps nodes whose VRAM use is ≤ `threshold` % (default: LLMLB_VRAM_THRESHOLD,
 * 90). An unknown or out-of-range figure passes. (vLLM pre-allocates ~90 % of VRAM, so
 * operators of vLLM fleets raise this; the seed's default is kept.)
 */
export function createVramThresholdFilter(params: PluginParams | undefined, env: PluginEnv): Filter {
  const threshold = numParam(params, "threshold", env.vramThreshold);
  return {
    name: "vram-threshold",
    filter(_request, input, n, output, slots, kept) {
      let m = 0;
      for (let i = 0; i < n; i++) {
        const node = input[i] as NodeSnapshot;
        const vram = vramUsageOf(node);
        if (!(vram > threshold && vram <= 100)) {
          output[m] = node;
          kept[m++] = slots[i] as number;
        }
      }
      return m;
    },
  };
}
