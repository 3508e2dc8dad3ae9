import type { Filter } from "../pipeline.js";
import type { PluginEnv } from "../plugin-kit.js";
import { adjustedLatencyMs, knownLatencyMs } from "../scorers/adjusted-latency.js";

/**
 * Seed 003 latency_based `max_latency`: keeps nodes whose load-adjusted latency
 * (avg × (1 + load × 0.5)) is within `request.requirements.maxLatencyMs`. An untried node passes.
 */
export function createMaxLatencyFilter(_params: unknown, env: PluginEnv): Filter {
  return {
    name: "max-latency",
    keep: (request, node) => {
      const max = request.requirements?.maxLatencyMs;
      if (max === undefined || !Number.isFinite(max)) return true;
      const avg = knownLatencyMs(node, env.fleet);
      return avg === undefined || adjustedLatencyMs(node, avg) <= max;
    },
  };
}
