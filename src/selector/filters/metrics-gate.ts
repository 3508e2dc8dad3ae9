import type { NodeSnapshot } from "../../nodes/types.js";
import { activeRequests, finiteOr, gpuUsageOf, vramUsageOf } from "../node-figures.js";
import type { Filter } from "../pipeline.js";
import type { PluginEnv, PluginParams } from "../plugin-kit.js";
import { numParam } from "../plugin-kit.js";
import { levelOf } from "./metrics-level.js";

/**
 * Seed 000 steps 2–3 plus the load filter, for one fallback level, in a single pass: keeps nodes
 * at level `level` whose known figures are within GPU ≤ gpuThreshold %, VRAM ≤ vramThreshold %
 * and active requests ≤ activeRequestThreshold (defaults: the operator's LLMLB_* thresholds).
 * Unknown figures pass, which is what makes level 1 "VRAM + active" and level 2 "active only".
 * Same verdict as metrics-level → gpu-threshold → vram-threshold → active-threshold, but one
 * walk over the fleet instead of four: at 10,000 nodes each walk costs a trip through memory.
 */
export function createMetricsGateFilter(params: PluginParams | undefined, env: PluginEnv): Filter {
  const level = numParam(params, "level", 0);
  const gpuMax = numParam(params, "gpuThreshold", env.gpuThreshold);
  const vramMax = numParam(params, "vramThreshold", env.vramThreshold);
  const activeMax = numParam(params, "activeRequestThreshold", env.activeRequestThreshold);
  return {
    name: "metrics-gate",
    filter(_request, input, n, output, slots, kept) {
      let m = 0;
      for (let i = 0; i < n; i++) {
        const node = input[i] as NodeSnapshot;
        // Our own in-flight count bounds the active count from below and sits in the snapshot
        // itself: checking it first spares most busy nodes the reads of GPU, VRAM and engine
        // figures, each its own cache miss at 10,000 nodes. The verdict does not depend on order.
        if (finiteOr(node.inFlight, 0) > activeMax) continue;
        const gpu = gpuUsageOf(node);
        const vram = vramUsageOf(node);
        if (levelOf(gpu, vram, node) !== level) continue;
        // "Not over" form: absent (NaN) and out-of-range figures are unknown and pass.
        if (gpu > gpuMax && gpu <= 100) continue;
        if (vram > vramMax && vram <= 100) continue;
        if (activeRequests(node) > activeMax) continue;
        output[m] = node;
        kept[m++] = slots[i] as number;
      }
      return m;
    },
  };
}
