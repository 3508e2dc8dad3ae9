import type { NodeSnapshot } from "../nodes/types.js";
import { nodeVramMib, vramGb } from "./capability.js";

/**
 * Seed-004 weighted_round_robin weight: 80 GB+ VRAM ×3.0, 40 GB+ ×2.0, 24 GB+ ×1.5, else 1.0;
 * a price under $1/h multiplies by 1.2 (unknown price: no bonus).
 */
export function instanceWeight(vramGigabytes: number, costPerHourUsd?: number): number {
  const gb = Number.isFinite(vramGigabytes) ? vramGigabytes : 0;
  let weight = gb >= 80 ? 3 : gb >= 40 ? 2 : gb >= 24 ? 1.5 : 1;
  if (costPerHourUsd !== undefined && Number.isFinite(costPerHourUsd) && costPerHourUsd < 1) weight *= 1.2;
  return weight;
}

/** Seed-004 weight of a node, from its total VRAM and its `costPerHourUsd` label. */
export function nodeWeight(node: NodeSnapshot): number {
  return instanceWeight(vramGb(nodeVramMib(node)), node.labels.costPerHourUsd);
}
