import type { NodeSnapshot } from "../nodes/types.js";

// Helpers that turn a NodeSnapshot's optional figures into numbers a scorer can trust. Every one
// of them maps undefined, NaN and ±Infinity to "unknown" (undefined) or to a stated default, so a
// stale or garbled heartbeat degrades a decision instead of poisoning it with NaN.

/** `x` when it is a finite number, else `fallback`. */
export function finiteOr(x: number | undefined, fallback: number): number {
  return x !== undefined && Number.isFinite(x) ? x : fallback;
}

/** `x` when it is a finite number, else undefined. */
export function finite(x: number | undefined): number | undefined {
  return x !== undefined && Number.isFinite(x) ? x : undefined;
}

/** Clamps to 0..1; NaN becomes 0. */
export function clamp01(x: number): number {
  return x >= 0 ? Math.min(x, 1) : 0; // NaN fails the comparison → 0
}

/** Whether the engine's own signals may be used (present, fresh and healthy). */
export function engineUsable(node: NodeSnapshot): boolean {
  return node.engine?.healthy === true;
}

/**
 * Active requests on a node: the control plane's own in-flight count, or the engine's
 * running + waiting when that is larger (other clients may share the engine).
 */
export function activeRequests(node: NodeSnapshot): number {
  const own = finiteOr(node.inFlight, 0);
  const engine = node.engine;
  if (engine === undefined || !engine.healthy) return own;
  const reported = finiteOr(engine.runningRequests, 0) + finiteOr(engine.waitingRequests, 0);
  return Math.max(reported, own);
}

/** Slot occupancy 0..1: in-flight jobs over the node's own concurrency limit. */
export function slotLoad(node: NodeSnapshot): number {
  const max = finiteOr(node.maxConcurrency, 0);
  if (max <= 0) return 1;
  return clamp01(finiteOr(node.inFlight, 0) / max);
}

/** A 0..100 percentage, or undefined when missing, stale or out of range. */
export function percent(x: number | undefined): number | undefined {
  return x !== undefined && x >= 0 && x <= 100 ? x : undefined;
}

/** Whether `x` is a 0..100 percentage (false for NaN, so for an absent figure read as NaN). */
export function isPercent(x: number): boolean {
  return x >= 0 && x <= 100;
}

// Optional figures, read behind `in`. A snapshot without a figure (a stale one, built without
// it) has another hidden class than one with it, and V8 reads a double property across two
// hidden classes into a fresh heap number: garbage and ~10 ns per node and figure, the largest
// cost of the simpler strategies at 1,000 nodes. Behind the `in` check, the read only ever sees
// snapshots that carry the figure and takes the double where it lies. NaN stands for absent;
// every reader treats NaN and undefined alike (unknown), so the figures mean what they did.

/** The snapshot's GPU utilisation figure as given; NaN when it has none. */
export function gpuUsageOf(node: NodeSnapshot): number {
  return "gpuUsagePercent" in node ? (node.gpuUsagePercent ?? Number.NaN) : Number.NaN;
}

/** The snapshot's VRAM use figure as given; NaN when it has none. */
export function vramUsageOf(node: NodeSnapshot): number {
  return "vramUsagePercent" in node ? (node.vramUsagePercent ?? Number.NaN) : Number.NaN;
}

/** The store's mean response time as given; NaN when it has none. */
export function avgResponseOf(node: NodeSnapshot): number {
  return "avgResponseMs" in node ? (node.avgResponseMs ?? Number.NaN) : Number.NaN;
}

/** The store's response-time EWMA as given; NaN when it has none. */
export function ewmaResponseOf(node: NodeSnapshot): number {
  return "ewmaResponseMs" in node ? (node.ewmaResponseMs ?? Number.NaN) : Number.NaN;
}

/** The last response time as given; NaN when it has none. */
export function lastResponseOf(node: NodeSnapshot): number {
  return "lastResponseMs" in node ? (node.lastResponseMs ?? Number.NaN) : Number.NaN;
}

/**
 * The node's response time (ms): EWMA, else mean, else last, whichever is first finite, when
 * that one is ≥ 0; NaN before any completion (or when the first finite figure is negative).
 */
export function responseTimeOf(node: NodeSnapshot): number {
  let v = ewmaResponseOf(node);
  if (!Number.isFinite(v)) {
    v = avgResponseOf(node);
    if (!Number.isFinite(v)) v = lastResponseOf(node);
  }
  return v >= 0 && v < Number.POSITIVE_INFINITY ? v : Number.NaN;
}

/** The node's response time (ms): EWMA, else mean, else last; undefined before any completion. */
export function responseMs(node: NodeSnapshot): number | undefined {
  const v = responseTimeOf(node);
  return Number.isNaN(v) ? undefined : v;
}

/** The `costPerHourUsd` label, or undefined when absent or not a sane price. */
export function costPerHour(node: NodeSnapshot): number | undefined {
  const c = node.labels.costPerHourUsd;
  return c !== undefined && Number.isFinite(c) && c >= 0 ? c : undefined;
}
