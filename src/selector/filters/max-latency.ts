import type { NodeSnapshot } from "../../nodes/types.js";
import type { Filter } from "../pipeline.js";
import type { PluginEnv } from "../plugin-kit.js";
import { adjustedLatencyMs, latencyOf } from "../scorers/adjusted-latency.js";
import type { SelectionRequest } from "../types.js";

/** The request's latency limit (ms), +Infinity when it states none. */
function limitOf(request: SelectionRequest): number {
  const max = request.requirements?.maxLatencyMs;
  return max !== undefined && Number.isFinite(max) ? max : Number.POSITIVE_INFINITY;
}

/**
 * Seed 003 latency_based `max_latency`: keeps nodes whose load-adjusted latency
 * (avg × (1 + load × 0.5)) is within `request.requirements.maxLatencyMs`. An untried node
 * passes; a request without the requirement keeps every node.
 */
export function createMaxLatencyFilter(_params: unknown, env: PluginEnv): Filter {
  return {
    name: "max-latency",
    keepsAll: (request) => limitOf(request) === Number.POSITIVE_INFINITY,
    filter(request, input, n, output, slots, kept) {
      const limit = limitOf(request);
      let m = 0;
      for (let i = 0; i < n; i++) {
        const node = input[i] as NodeSnapshot;
        const slot = slots[i] as number;
        const avg = limit === Number.POSITIVE_INFINITY ? Number.NaN : latencyOf(node, env.fleet, slot);
        if (Number.isNaN(avg) || adjustedLatencyMs(node, avg) <= limit) {
          output[m] = node;
          kept[m++] = slot;
        }
      }
      return m;
    },
  };
}
