import type { NodeSnapshot } from "../../nodes/types.js";
import { avgResponseOf, ewmaResponseOf, slotLoad } from "../node-figures.js";
import type { Scorer } from "../pipeline.js";
import type { PluginEnv } from "../plugin-kit.js";
import { ensureLength } from "../plugin-kit.js";
import type { FleetState } from "../state/fleet-state.js";

/**
 * A node's historical average latency (ms): the store's mean, else its EWMA, else ours; undefined
 * if untried. `slot` (the node's candidate position, when known) finds our EWMA without a lookup.
 */
export function knownLatencyMs(node: NodeSnapshot, fleet: FleetState, slot = -1): number | undefined {
  const v = latencyOf(node, fleet, slot);
  return Number.isNaN(v) ? undefined : v;
}

/** knownLatencyMs for loops over numbers: NaN if untried. */
export function latencyOf(node: NodeSnapshot, fleet: FleetState, slot: number): number {
  let v = avgResponseOf(node);
  if (!Number.isFinite(v)) {
    v = ewmaResponseOf(node);
    if (!Number.isFinite(v))
      v = slot >= 0 ? fleet.ewmaMsAt(slot, node) : (fleet.peek(node.id)?.ewmaMs ?? Number.NaN);
  }
  return v >= 0 ? v : Number.NaN;
}

/** Seed 003: avg_latency × (1 + current_load × 0.5), load = slot occupancy 0..1. */
export function adjustedLatencyMs(node: NodeSnapshot, avgMs: number): number {
  return avgMs * (1 + slotLoad(node) * 0.5);
}

/**
 * Seed 003 latency_based: lowest load-adjusted historical latency wins; score = best / own.
 * An untried node is assumed as fast as the fastest known one (optimistic, so it gets measured).
 */
export function createAdjustedLatencyScorer(_params: unknown, env: PluginEnv): Scorer {
  let load: Float64Array = new Float64Array(64);
  return {
    name: "adjusted-latency",
    score(_request, nodes, n, out, slots) {
      load = ensureLength(load, n);
      // One pass reads the nodes. A tried node gets its adjusted latency there (adjustedLatencyMs,
      // load -1 marks it); an untried one keeps its load until the fastest known latency is
      // known. The least of those is at the lightest load (the product is monotone in it), so
      // the second pass can already divide.
      let fastest = Number.POSITIVE_INFINITY;
      let best = Number.POSITIVE_INFINITY;
      let lightest = Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const node = nodes[i] as NodeSnapshot;
        const avg = latencyOf(node, env.fleet, slots[i] as number);
        const busy = slotLoad(node);
        if (avg >= 0) {
          const adjusted = avg * (1 + busy * 0.5);
          out[i] = adjusted;
          load[i] = -1;
          if (adjusted < best) best = adjusted;
          if (avg < fastest) fastest = avg;
        } else {
          load[i] = busy;
          if (busy < lightest) lightest = busy;
        }
      }
      if (fastest === Number.POSITIVE_INFINITY) fastest = 1; // nothing measured: load alone decides
      if (lightest !== Number.POSITIVE_INFINITY) {
        const untried = fastest * (1 + lightest * 0.5);
        if (untried < best) best = untried;
      }
      for (let i = 0; i < n; i++) {
        const busy = load[i] as number;
        const v = busy < 0 ? (out[i] as number) : fastest * (1 + busy * 0.5);
        out[i] = v <= 0 ? 1 : best / v;
      }
    },
  };
}
