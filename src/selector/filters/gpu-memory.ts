import type { NodeSnapshot } from "../../nodes/types.js";
import { nodeVramMib } from "../capability.js";
import type { Filter } from "../pipeline.js";

/**
 * Seed 003 `requirements: {gpu_memory: ">=16GB"}`: keeps nodes whose total VRAM is at least
 * `request.requirements.gpuMemoryGb` GiB. A request without the requirement keeps every node.
 */
export function createGpuMemoryFilter(): Filter {
  return {
    name: "gpu-memory",
    filter(request, input, n, output) {
      const need = request.requirements?.gpuMemoryGb;
      const mib = need !== undefined && Number.isFinite(need) && need > 0 ? need * 1024 : 0;
      let m = 0;
      for (let i = 0; i < n; i++) {
        const node = input[i] as NodeSnapshot;
        if (mib === 0 || nodeVramMib(node) >= mib) output[m++] = node;
      }
      return m;
    },
  };
}
