import { createActiveThresholdFilter } from "./filters/active-threshold.js";
import { createGpuMemoryFilter } from "./filters/gpu-memory.js";
import { createGpuThresholdFilter } from "./filters/gpu-threshold.js";
import { createMaxCostFilter } from "./filters/max-cost.js";
import { createMaxLatencyFilter } from "./filters/max-latency.js";
import { createMetricsGateFilter } from "./filters/metrics-gate.js";
import { createMetricsLevelFilter } from "./filters/metrics-level.js";
import { createVramThresholdFilter } from "./filters/vram-threshold.js";
import { createMaxScorePicker } from "./pickers/max-score.js";
import { createRoundRobinPicker } from "./pickers/round-robin.js";
import { createWeightedRoundRobinPicker } from "./pickers/weighted-round-robin.js";
import type { Filter, Picker, Scorer } from "./pipeline.js";
import type { PluginEnv, PluginParams } from "./plugin-kit.js";
import { createAdjustedLatencyScorer } from "./scorers/adjusted-latency.js";
import { createCapabilityScorer } from "./scorers/capability.js";
import { createCheapestScorer } from "./scorers/cheapest.js";
import { createCostPerformanceScorer } from "./scorers/cost-performance.js";
import {
  createFewestActiveScorer,
  createFewestTotalScorer,
  createLeastConnectionsScorer,
} from "./scorers/inverse-count.js";
import { createLearnedDurationScorer } from "./scorers/learned-duration.js";
import { createPredictedLatencyScorer } from "./scorers/predicted-latency.js";
import { createQueueWeightedScorer } from "./scorers/queue-weighted.js";
import { createResourceHeadroomScorer } from "./scorers/resource-headroom.js";
import { createResponseTimeScorer } from "./scorers/response-time.js";

/** Builds a plugin from its parameters (defaults for what is missing) and the strategy's env. */
export type PluginFactory<T> = (params: PluginParams | undefined, env: PluginEnv) => T;

/** Filter plugins by type name. */
export const FILTERS: Readonly<Record<string, PluginFactory<Filter>>> = {
  "metrics-level": createMetricsLevelFilter,
  "metrics-gate": createMetricsGateFilter,
  "gpu-threshold": createGpuThresholdFilter,
  "vram-threshold": createVramThresholdFilter,
  "active-threshold": createActiveThresholdFilter,
  "gpu-memory": createGpuMemoryFilter,
  "max-cost": createMaxCostFilter,
  "max-latency": createMaxLatencyFilter,
};

/** Scorer plugins by type name. */
export const SCORERS: Readonly<Record<string, PluginFactory<Scorer>>> = {
  capability: createCapabilityScorer,
  "fewest-active": createFewestActiveScorer,
  "least-connections": createLeastConnectionsScorer,
  "fewest-total": createFewestTotalScorer,
  "response-time": createResponseTimeScorer,
  "adjusted-latency": createAdjustedLatencyScorer,
  "cost-performance": createCostPerformanceScorer,
  cheapest: createCheapestScorer,
  "queue-weighted": createQueueWeightedScorer,
  "resource-headroom": createResourceHeadroomScorer,
  "predicted-latency": createPredictedLatencyScorer,
  "learned-duration": createLearnedDurationScorer,
};

/** Picker plugins by type name. */
export const PICKERS: Readonly<Record<string, PluginFactory<Picker>>> = {
  "max-score": createMaxScorePicker,
  "round-robin": createRoundRobinPicker,
  "weighted-round-robin": createWeightedRoundRobinPicker,
};

/** Instantiates a plugin by kind and type name; an unknown name is a programming error. */
export function instantiate<T>(
  table: Readonly<Record<string, PluginFactory<T>>>,
  kind: string,
  type: string,
  params: PluginParams | undefined,
  env: PluginEnv,
): T {
  const factory = Object.hasOwn(table, type) ? table[type] : undefined;
  if (factory === undefined) {
    throw new Error(`unknown ${kind} plugin "${type}"; known: ${Object.keys(table).join(", ")}`);
  }
  return factory(params, env);
}
