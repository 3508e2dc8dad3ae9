import { nodeVramMib } from "../capability.js";
import type { Filter } from "../pipeline.js";

/**
 * Seed 003 `requirements: {gpu_memory: ">=16GB"}`: keeps nodes whose total VRAM is at least
 * `request.requirements.gpuMemoryGb` GiB. A request without the requirement passes everywhere.
 */
export function createGpuMemoryFilter(): Filter {
  return {
    name: "gpu-memory",
    keep: (request, node) => {
      const need = request.requirements?.gpuMemoryGb;
      if (need === undefined || !Number.isFinite(need) || need <= 0) return true;
      return nodeVramMib(node) >= need * 1024;
    },
  };
}
