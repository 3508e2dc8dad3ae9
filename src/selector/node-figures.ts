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

/** The node's response time (ms): EWMA, else mean, else last; undefined before any completion. */
export function responseMs(node: NodeSnapshot): number | undefined {
  const v = finite(node.ewmaResponseMs) ?? finite(node.avgResponseMs) ?? finite(node.lastResponseMs);
  return v !== undefined && v >= 0 ? v : undefined;
}

/** The `costPerHourUsd` label, or undefined when absent or not a sane price. */
export function costPerHour(node: NodeSnapshot): number | undefined {
  const c = node.labels.costPerHourUsd;
  return c !== undefined && Number.isFinite(c) && c >= 0 ? c : undefined;
}
