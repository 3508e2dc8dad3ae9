import type { FleetState } from "./state/fleet-state.js";

/** Parameters of one plugin instance, as a strategy profile writes them. */
export type PluginParams = Readonly<Record<string, number | string | boolean>>;

/** What every plugin factory may read: the operator's thresholds, the clock and learned state. */
export interface PluginEnv {
  readonly gpuThreshold: number;
  readonly vramThreshold: number;
  readonly activeRequestThreshold: number;
  /** Clock in ms. */
  readonly now: () => number;
  /** The strategy's own memory of the fleet (job accounting, learned speeds, prefix index). */
  readonly fleet: FleetState;
}

/** A numeric parameter, or `fallback` when absent or not a finite number. */
export function numParam(params: PluginParams | undefined, key: string, fallback: number): number {
  const v = params?.[key];
  return typeof v === "number" && Number.isFinite(v) ? v : fallback;
}

/** A boolean parameter, or `fallback` when absent. */
export function boolParam(params: PluginParams | undefined, key: string, fallback: boolean): boolean {
  const v = params?.[key];
  return typeof v === "boolean" ? v : fallback;
}

/** Grows a scratch buffer to hold at least `n` values (contents not preserved). */
export function ensureLength(buf: Float64Array, n: number): Float64Array {
  return buf.length >= n ? buf : new Float64Array(Math.max(n, buf.length * 2));
}
