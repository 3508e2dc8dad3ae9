import type { NodeSnapshot } from "../../nodes/types.js";
import type { Filter } from "../pipeline.js";
import type { PluginEnv } from "../plugin-kit.js";
import type { SelectionRequest } from "../types.js";

/** The request's VRAM need (MiB), 0 when it states none. */
function needOf(request: SelectionRequest): number {
  const need = request.requirements?.gpuMemoryGb;
  return need !== undefined && Number.isFinite(need) && need > 0 ? need * 1024 : 0;
}

/**
 * Seed 003 `requirements: {gpu_memory: ">=16GB"}`: keeps nodes whose total VRAM is at least
 * `request.requirements.gpuMemoryGb` GiB. A request without the requirement keeps every node.
 */
export function createGpuMemoryFilter(_params: unknown, env: PluginEnv): Filter {
  return {
    name: "gpu-memory",
    keepsAll: (request) => needOf(request) === 0,
    filter(request, input, n, output, slots, kept) {
      const mib = needOf(request);
      const facts = env.fleet.facts;
      let m = 0;
      for (let i = 0; i < n; i++) {
        const node = input[i] as NodeSnapshot;
        const slot = slots[i] as number;
        // Total VRAM is a registration fact, cached by candidate position.
        if (mib === 0 || facts.vramMibAt(slot, node) >= mib) {
          output[m] = node;
          kept[m++] = slot;
        }
      }
      return m;
    },
  };
}
