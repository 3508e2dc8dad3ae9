import type { GpuFacts, NodeLabels, NodeSnapshot } from "../../nodes/types.js";
import { nodeCapability, nodeVramMib, vramGb } from "../capability.js";
import { instanceWeight } from "../instance-weight.js";
import { costPerHour } from "../node-figures.js";

/**
 * Figures that follow from a node's registration alone — GPU capability, total VRAM, price,
 * seed-004 WRR weight — kept per candidate position (see Scorer.score's `slots`).
 *
 * They are derived from the snapshot's `gpus` array and `labels` object, which registration
 * replaces and heartbeats never touch, so a position's figures stay valid as long as it sees the
 * same two objects: a check that compares two pointers the snapshot already holds, instead of
 * walking the GPU list, the GPU table and the labels object for every node of every decision.
 * Each object is checked on its own, so new labels do not cost a GPU-table walk.
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
  private gpusAt: (readonly GpuFacts[] | undefined)[] = [];
  private labelsAt: (NodeLabels | undefined)[] = [];
  private capacity = 0;

  /** Makes position `slot` describe `node`, recomputing only what changed. */
  load(slot: number, node: NodeSnapshot): void {
    if (this.gpusAt[slot] !== node.gpus) this.loadGpus(slot, node);
    if (this.labelsAt[slot] !== node.labels) this.loadLabels(slot, node);
  }

  /** `node`'s capability, by its candidate position. */
  capabilityAt(slot: number, node: NodeSnapshot): number {
    if (this.gpusAt[slot] !== node.gpus) this.loadGpus(slot, node);
    return this.capability[slot] as number;
  }

  /** `node`'s total VRAM (MiB), by its candidate position. */
  vramMibAt(slot: number, node: NodeSnapshot): number {
    if (this.gpusAt[slot] !== node.gpus) this.loadGpus(slot, node);
    return this.vramMib[slot] as number;
  }

  /** `node`'s price ($/h), NaN when unknown, by its candidate position. */
  costAt(slot: number, node: NodeSnapshot): number {
    if (this.labelsAt[slot] !== node.labels) this.loadLabels(slot, node);
    return this.costPerHour[slot] as number;
  }

  /** `node`'s WRR weight, by its candidate position. */
  weightAt(slot: number, node: NodeSnapshot): number {
    this.load(slot, node);
    return this.weight[slot] as number;
  }

  /** Drops every reference to snapshots' objects (a node was removed). */
  clear(): void {
    this.gpusAt = [];
    this.labelsAt = [];
  }

  private loadGpus(slot: number, node: NodeSnapshot): void {
    if (slot >= this.capacity) this.grow(slot + 1);
    this.gpusAt[slot] = node.gpus;
    this.capability[slot] = nodeCapability(node);
    this.vramMib[slot] = nodeVramMib(node);
    this.labelsAt[slot] = undefined; // the weight needs both: recompute it with the labels
  }

  private loadLabels(slot: number, node: NodeSnapshot): void {
    if (this.gpusAt[slot] !== node.gpus) this.loadGpus(slot, node); // the weight needs the VRAM
    this.labelsAt[slot] = node.labels;
    this.costPerHour[slot] = costPerHour(node) ?? Number.NaN;
    this.weight[slot] = instanceWeight(vramGb(this.vramMib[slot] as number), node.labels.costPerHourUsd);
  }

  private grow(min: number): void {
    const size = Math.max(min, 64, this.capacity * 2);
    for (const key of ["capability", "vramMib", "costPerHour", "weight"] as const) {
      const next = new Float64Array(size);
      next.set(this[key]);
      this[key] = next;
    }
    this.capacity = size;
  }
}
