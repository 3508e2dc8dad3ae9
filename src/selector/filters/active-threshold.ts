import type { NodeSnapshot } from "../../nodes/types.js";
import { activeRequests } from "../node-figures.js";
import type { Filter } from "../pipeline.js";
import type { PluginEnv, PluginParams } from "../plugin-kit.js";
import { numParam } from "../plugin-kit.js";

/**
 * The seed's load filter: keeps nodes with at most `threshold` active requests (default:
 * LLMLB_ACTIVE_REQ_THRESHOLD, 10). Only the `metrics` strategy uses it — it is not a slot cap.
 */
export function createActiveThresholdFilter(params: PluginParams | undefined, env: PluginEnv): Filter {
  const threshold = numParam(params, "threshold", env.activeRequestThreshold);
  return {
    name: "active-threshold",
    filter(_request, input, n, output, slots, kept) {
      let m = 0;
      for (let i = 0; i < n; i++) {
        const node = input[i] as NodeSnapshot;
        if (activeRequests(node) <= threshold) {
          output[m] = node;
          kept[m++] = slots[i] as number;
        }
      }
      return m;
    },
  };
}
