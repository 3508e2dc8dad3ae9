import type { GpuFacts, NodeLabels, NodeSnapshot } from "../../nodes/types.js";
import { nodeCapability, nodeVramMib, vramGb } from "../capability.js";
import { instanceWeight } from "../instance-weight.js";
import { costPerHour } from "../node-figures.js";

/** Price floor ($/h): free or mislabelled nodes must not divide by zero and win everything. */
export const MIN_PRICE = 0.01;

/**
 * The key per-node caches use for `node` at candidate position `position`: its store ordinal,
 * else the position (a snapshot built outside a node store).
 */
export function cacheKey(position: number, node: NodeSnapshot): number {
  const o = node.ordinal;
  return o !== undefined && o >= 0 ? o : position;
}

/**
 * Figures that follow from a node's registration alone — GPU capability, total VRAM, price,
 * seed-004 WRR weight — kept per node (see cacheKey).
 *
 * They are derived from the snapshot's `gpus` array and `labels` object, which registration
 * replaces and heartbeats never touch. By ordinal, a key's figures stay valid while it sees the
 * same generation, which each registration replaces (NodeSnapshot.generation): one comparison
 * of numbers, where comparing the objects makes V8 load each one's map (a cache miss per node
 * at 10,000). By candidate position (a snapshot without an ordinal), they stay valid while the
 * key sees the same two objects, each checked on its own, so new labels do not cost a GPU-table
 * walk. Either way, instead of walking the GPU list, the GPU table and the labels object for
 * every node of every decision.
 */
export class NodeFacts {
  /** Seed-000 capability summed over the node's GPUs (capability.ts). */
  capability: Float64Array = new Float64Array(0);
  /** Total VRAM (MiB). */
  vramMib: Float64Array = new Float64Array(0);
  /** The `costPerHourUsd` label when it is a sane price, else NaN. */
  costPerHour: Float64Array = new Float64Array(0);
  /** Seed-004 weight (instance-weight.ts). */
  weight: Float64Array = new Float64Array(0);
  /** 1 / max(MIN_PRICE, costPerHour): what a unit of throughput is worth per $/h; NaN unpriced. */
  perDollar: Float64Array = new Float64Array(0);
  /** The generation a key's figures were computed for; NaN when keyed by position or unset. */
  genAt: Float64Array = new Float64Array(0);
  // The objects a position-keyed entry's figures were computed from.
  private gpusAt: (readonly GpuFacts[] | undefined)[] = [];
  private labelsAt: (NodeLabels | undefined)[] = [];
  private capacity = 0;

  /** Makes `node`'s key (cacheKey) describe it, recomputing only what changed; returns the key. */
  load(position: number, node: NodeSnapshot): number {
    const o = node.ordinal;
    if (o !== undefined && o >= 0) {
      if (!(o < this.capacity && this.genAt[o] === node.generation)) this.loadOrdinal(o, node);
      return o;
    }
    if (this.gpusAt[position] !== node.gpus) this.loadGpus(position, node);
    if (this.labelsAt[position] !== node.labels) this.loadLabels(position, node);
    return position;
  }

  /** `node`'s capability; `position` is its candidate position (cacheKey). */
  capabilityAt(position: number, node: NodeSnapshot): number {
    const o = node.ordinal;
    if (o !== undefined && o >= 0) {
      if (!(o < this.capacity && this.genAt[o] === node.generation)) this.loadOrdinal(o, node);
      return this.capability[o] as number;
    }
    if (this.gpusAt[position] !== node.gpus) this.loadGpus(position, node);
    return this.capability[position] as number;
  }

  /** `node`'s total VRAM (MiB); `position` is its candidate position (cacheKey). */
  vramMibAt(position: number, node: NodeSnapshot): number {
    const o = node.ordinal;
    if (o !== undefined && o >= 0) {
      if (!(o < this.capacity && this.genAt[o] === node.generation)) this.loadOrdinal(o, node);
      return this.vramMib[o] as number;
    }
    if (this.gpusAt[position] !== node.gpus) this.loadGpus(position, node);
    return this.vramMib[position] as number;
  }

  /** `node`'s price ($/h), NaN when unknown; `position` is its candidate position (cacheKey). */
  costAt(position: number, node: NodeSnapshot): number {
    const o = node.ordinal;
    if (o !== undefined && o >= 0) {
      if (!(o < this.capacity && this.genAt[o] === node.generation)) this.loadOrdinal(o, node);
      return this.costPerHour[o] as number;
    }
    if (this.labelsAt[position] !== node.labels) this.loadLabels(position, node);
    return this.costPerHour[position] as number;
  }

  /** `node`'s WRR weight; `position` is its candidate position (cacheKey). */
  weightAt(position: number, node: NodeSnapshot): number {
    const slot = this.load(position, node); // first: loading may grow, replacing the arrays
    return this.weight[slot] as number;
  }

  /** Drops every reference to snapshots' objects (a node was removed). */
  clear(): void {
    this.gpusAt = [];
    this.labelsAt = [];
    this.genAt.fill(Number.NaN);
  }

  /** Everything at ordinal `o`, for `node`'s generation. */
  private loadOrdinal(o: number, node: NodeSnapshot): void {
    this.loadGpus(o, node);
    this.loadLabels(o, node);
    this.genAt[o] = node.generation ?? Number.NaN;
  }

  private loadGpus(slot: number, node: NodeSnapshot): void {
    if (slot >= this.capacity) this.grow(slot + 1);
    this.genAt[slot] = Number.NaN;
    this.gpusAt[slot] = node.gpus;
    this.capability[slot] = nodeCapability(node);
    this.vramMib[slot] = nodeVramMib(node);
    this.labelsAt[slot] = undefined; // the weight needs both: recompute it with the labels
  }

  private loadLabels(slot: number, node: NodeSnapshot): void {
    if (this.gpusAt[slot] !== node.gpus) this.loadGpus(slot, node); // the weight needs the VRAM
    this.genAt[slot] = Number.NaN;
    this.labelsAt[slot] = node.labels;
    const price = costPerHour(node) ?? Number.NaN;
    this.costPerHour[slot] = price;
    this.perDollar[slot] = 1 / Math.max(MIN_PRICE, price);
    this.weight[slot] = instanceWeight(vramGb(this.vramMib[slot] as number), node.labels.costPerHourUsd);
  }

  private grow(min: number): void {
    const size = Math.max(min, 64, this.capacity * 2);
    for (const key of ["capability", "vramMib", "costPerHour", "weight", "perDollar"] as const) {
      const next = new Float64Array(size);
      next.set(this[key]);
      this[key] = next;
    }
    const gens = new Float64Array(size).fill(Number.NaN);
    gens.set(this.genAt);
    this.genAt = gens;
    this.capacity = size;
  }
}
