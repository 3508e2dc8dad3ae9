import { createPipeline, type ObserveHook, type PipelineStrategy, type Profile } from "./pipeline.js";
import type { PluginEnv } from "./plugin-kit.js";
import { FILTERS, instantiate, PICKERS, SCORERS } from "./plugins.js";
import type { Rng } from "./rng.js";
import { FleetState } from "./state/fleet-state.js";
import { STRATEGY_DEFS, type StrategyDef, type StrategyName } from "./strategies.js";

/** Seed-000 GPU capability score (per GPU, per node), for /loads and the dashboard. */
export { capabilityScore, nodeCapability } from "./capability.js";
/** Seed-004 weighted_round_robin weight (per instance, per node), for /loads. */
export { instanceWeight, nodeWeight } from "./instance-weight.js";
/** The name of one of the strategies in STRATEGY_NAMES. */
export type { StrategyName } from "./strategies.js";

/** Every strategy name, the default (`metrics`) first. */
export const STRATEGY_NAMES: readonly string[] = Object.freeze(Object.keys(STRATEGY_DEFS));

/** The seed's default strategy. */
export const DEFAULT_STRATEGY: StrategyName = "metrics";

/** What the control plane hands a strategy at creation. */
export interface StrategyParams {
  /** LLMLB_GPU_THRESHOLD, % (seed default 80). */
  gpuThreshold: number;
  /** LLMLB_VRAM_THRESHOLD, % (seed default 90). */
  vramThreshold: number;
  /** LLMLB_ACTIVE_REQ_THRESHOLD (seed default 10); the metrics strategy's load filter only. */
  activeRequestThreshold: number;
  /** Uniform [0, 1) source for tie-breaks; default Math.random. Seed it for reproducible runs. */
  rng?: Rng | undefined;
  /** Per-plugin timing hook (stage, plugin, seconds); plugins are timed only when it is set. */
  observe?: ObserveHook | undefined;
  /** Clock in ms for gpu_aware's queue model; default Date.now. */
  now?: (() => number) | undefined;
  /** Tokens per prefix-hash block; default: inferred per request as prompt tokens / hashes. */
  prefixBlockTokens?: number | undefined;
  /** Prefix blocks remembered per node by gpu_aware (default 2048). */
  prefixCapacity?: number | undefined;
}

/** Whether `name` is a known strategy. */
export function isStrategyName(name: string): name is StrategyName {
  return Object.hasOwn(STRATEGY_DEFS, name);
}

/** One line describing a strategy, for CLI help and the dashboard. */
export function strategySummary(name: StrategyName): string {
  return STRATEGY_DEFS[name].summary;
}

/**
 * Creates a fresh instance of strategy `name` (each instance has its own learned state).
 * Throws an Error listing the valid names when `name` is unknown.
 */
export function createStrategy(name: string, params: StrategyParams): PipelineStrategy {
  if (!isStrategyName(name)) {
    throw new Error(
      `unknown load-balancing strategy "${name}"; valid strategies: ${STRATEGY_NAMES.join(", ")}`,
    );
  }
  const def: StrategyDef = STRATEGY_DEFS[name];
  const now = params.now ?? Date.now;
  const fleet = new FleetState({
    now,
    prefixes: def.prefixes ?? false,
    prefixCapacity: positiveOr(params.prefixCapacity, 2048),
    prefixBlockTokens: positiveOr(params.prefixBlockTokens, 0),
    learnSpeeds: def.learnSpeeds ?? false,
    adaptive: def.adaptive ?? false,
  });
  const env: PluginEnv = {
    gpuThreshold: finiteOr(params.gpuThreshold, 80),
    vramThreshold: finiteOr(params.vramThreshold, 90),
    activeRequestThreshold: finiteOr(params.activeRequestThreshold, 10),
    now,
    fleet,
  };
  const profiles: Profile[] = def.profiles.map((p) => ({
    reason: p.reason,
    filters: (p.filters ?? []).map((f) => instantiate(FILTERS, "filter", f.type, f.params, env)),
    scorers: (p.scorers ?? []).map((s) => ({
      scorer: instantiate(SCORERS, "scorer", s.type, s.params, env),
      weight: s.weight ?? 1,
    })),
    picker: instantiate(PICKERS, "picker", p.picker.type, p.picker.params, env),
  }));
  return createPipeline({
    name,
    profiles,
    rng: params.rng ?? Math.random,
    observe: params.observe,
    lifecycle: fleet,
  });
}

function finiteOr(x: number, fallback: number): number {
  return typeof x === "number" && Number.isFinite(x) ? x : fallback;
}

function positiveOr(x: number | undefined, fallback: number): number {
  return x !== undefined && Number.isFinite(x) && x > 0 ? x : fallback;
}
