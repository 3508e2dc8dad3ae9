import type { PluginParams } from "./plugin-kit.js";

// The named strategies, each a list of profiles tried in order (the first whose filters leave a
// node decides). Pure data over the plugin registry in plugins.ts; README.md explains each one.

/** A plugin by type name with optional parameters. */
export interface PluginRef {
  readonly type: string;
  readonly params?: PluginParams;
}

/** A scorer reference with its weight (default 1). */
export interface ScorerRef extends PluginRef {
  readonly weight?: number;
}

/** One profile: the reason it reports, its filters, weighted scorers and picker. */
export interface ProfileDef {
  readonly reason: string;
  readonly filters?: readonly PluginRef[];
  readonly scorers?: readonly ScorerRef[];
  readonly picker: PluginRef;
}

/** A named strategy: which learned state it needs, and its profiles. */
export interface StrategyDef {
  /** One line for operators (CLI / dashboard). */
  readonly summary: string;
  readonly prefixes?: boolean;
  readonly learnSpeeds?: boolean;
  readonly adaptive?: boolean;
  readonly profiles: readonly ProfileDef[];
}

const MAX = { type: "max-score" } as const;
const RR = { type: "round-robin" } as const;
// Seed 000 steps 2–5: per fallback level, the threshold gate (one pass; the same verdict as the
// metrics-level → gpu/vram/active-threshold chain), then fewest active requests with GPU
// capability as the tie-break order. fewest-active scores (1 + min) / (1 + active), so one request
// of difference is worth ≥ 1/((1+a)(2+a)) > 1e-7 for any a below ~3,000: capability's 1e-7 weight
// can never outvote it, yet a 1 % capability difference still clears the picker's 1e-9 tie band.
const gate = (level: number) => [{ type: "metrics-gate", params: { level } }];
const metricsScorers = [
  { type: "fewest-active", weight: 1 },
  { type: "capability", weight: 1e-7 },
] as const;

/** Every strategy, by the name operators and the seeds use. */
export const STRATEGY_DEFS = {
  metrics: {
    summary:
      "seed 000/001: GPU ≤ 80 %, VRAM ≤ 90 %, active ≤ 10, fewest active by capability; fallback levels 0–4",
    profiles: [
      {
        reason: "gpu_metrics",
        filters: gate(0),
        scorers: metricsScorers,
        picker: MAX,
      },
      {
        reason: "vram_active",
        filters: gate(1),
        scorers: metricsScorers,
        picker: MAX,
      },
      {
        reason: "fewest_active",
        filters: gate(2),
        scorers: metricsScorers,
        picker: MAX,
      },
      {
        reason: "capability_round_robin",
        filters: [{ type: "metrics-level", params: { level: 3 } }],
        scorers: [{ type: "capability" }],
        picker: { type: "round-robin", params: { topOnly: true } },
      },
      { reason: "fallback_round_robin", picker: RR },
    ],
  },
  round_robin: {
    summary: "seed 004: each candidate in turn",
    profiles: [{ reason: "round_robin", picker: RR }],
  },
  weighted_round_robin: {
    summary:
      "seed 004: smooth WRR, weight by VRAM class (80 GB ×3, 40 GB ×2, 24 GB ×1.5) and price < $1/h ×1.2",
    profiles: [{ reason: "weighted_round_robin", picker: { type: "weighted-round-robin" } }],
  },
  equal_weighted: {
    summary: "seed 004: fewest total connections",
    profiles: [{ reason: "fewest_total", scorers: [{ type: "fewest-total" }], picker: MAX }],
  },
  least_connections: {
    summary: "seed 004: fewest active connections",
    profiles: [{ reason: "least_connections", scorers: [{ type: "least-connections" }], picker: MAX }],
  },
  least_response_time: {
    summary: "seed 004: lowest EWMA response time, untried nodes first",
    profiles: [{ reason: "least_response_time", scorers: [{ type: "response-time" }], picker: MAX }],
  },
  resource_aware: {
    summary:
      "seed 003: mean of slot, VRAM, GPU headroom and requirement match; nodes meeting requirements first",
    profiles: [
      {
        reason: "resource_fit",
        filters: [{ type: "gpu-memory" }, { type: "max-cost" }, { type: "max-latency" }],
        scorers: [{ type: "resource-headroom" }],
        picker: MAX,
      },
      { reason: "resource_partial_fit", scorers: [{ type: "resource-headroom" }], picker: MAX },
    ],
  },
  latency_based: {
    summary: "seed 003: lowest avg latency × (1 + load × 0.5), within maxLatencyMs when possible",
    profiles: [
      {
        reason: "lowest_latency",
        filters: [{ type: "max-latency" }],
        scorers: [{ type: "adjusted-latency" }],
        picker: MAX,
      },
      { reason: "latency_over_limit", scorers: [{ type: "adjusted-latency" }], picker: MAX },
    ],
  },
  cost_aware: {
    summary: "seed 003: best throughput per $/h within maxCostPerHourUsd; else the cheapest node",
    learnSpeeds: true,
    profiles: [
      {
        reason: "best_value",
        filters: [{ type: "max-cost" }],
        scorers: [{ type: "cost-performance" }],
        picker: MAX,
      },
      { reason: "budget_exceeded", scorers: [{ type: "cheapest" }], picker: MAX },
    ],
  },
  queue_weighted: {
    summary: "seed 002: lowest GPU% × 0.3 + queue × 0.7",
    profiles: [{ reason: "queue_weighted", scorers: [{ type: "queue-weighted" }], picker: MAX }],
  },
  smart_adaptive: {
    summary: "seed 003: per-node online regression of job duration, fastest predicted",
    adaptive: true,
    profiles: [{ reason: "learned_latency", scorers: [{ type: "learned-duration" }], picker: MAX }],
  },
  gpu_aware: {
    summary:
      "llmlb: lowest predicted TTFT + completion from KV/queue state, learned speeds and prefix affinity",
    prefixes: true,
    learnSpeeds: true,
    profiles: [{ reason: "predicted_latency", scorers: [{ type: "predicted-latency" }], picker: MAX }],
  },
} as const satisfies Readonly<Record<string, StrategyDef>>;

/** A strategy name. */
export type StrategyName = keyof typeof STRATEGY_DEFS;
