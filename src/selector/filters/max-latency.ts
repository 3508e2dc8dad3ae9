import type { NodeSnapshot } from "../../nodes/types.js";
import type { Filter } from "../pipeline.js";
import type { PluginEnv } from "../plugin-kit.js";
import { adjustedLatencyMs, knownLatencyMs } from "../scorers/adjusted-latency.js";

/**
 * Seed 003 latency_based `max_latency`: keeps nodes whose load-adjusted latency
 * (avg × (1 + load × 0.5)) is within `request.requirements.maxLatencyMs`. An untried node
 * passes; a request without the requirement keeps every node.
 */
export function createMaxLatencyFilter(_params: unknown, env: PluginEnv): Filter {
  return {
    name: "max-latency",
    filter(request, input, n, output) {
      const max = request.requirements?.maxLatencyMs;
      const limit = max !== undefined && Number.isFinite(max) ? max : Number.POSITIVE_INFINITY;
      let m = 0;
      for (let i = 0; i < n; i++) {
        const node = input[i] as NodeSnapshot;
        const avg = limit === Number.POSITIVE_INFINITY ? undefined : knownLatencyMs(node, env.fleet);
        if (avg === undefined || adjustedLatencyMs(node, avg) <= limit) output[m++] = node;
      }
      return m;
    },
  };
}
