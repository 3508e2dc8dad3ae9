import { performance } from "node:perf_hooks";
import type { JobOutcome, NodeSnapshot } from "../nodes/types.js";
import type { Rng } from "./rng.js";
import type { Selection, SelectionRequest, Strategy } from "./types.js";

// The selection pipeline, shaped like the llm-d scheduler: filters → weighted scorers → picker.
// A strategy is an ordered list of profiles; the first profile whose filters leave a node decides
// (that is how fallback levels are expressed). Plugins are small and pure over their inputs; the
// runner alone clamps scores, applies weights, hands pickers the seeded RNG and times plugins.
// Hot-path rule: no per-call allocation beyond the returned Selection, so buffers are reused.

/** Extension point names, as the selection-duration histogram labels them. */
export type Stage = "filter" | "score" | "pick";

/** Timing hook: called once per plugin per decision with the plugin's wall time in seconds. */
export type ObserveHook = (stage: Stage, plugin: string, seconds: number) => void;

/**
 * Keeps the nodes among the first `n` of `input` that pass, writing them in order to `output`
 * (which may be `input` itself: filtering in place) and returning how many it kept. A batch API
 * rather than a per-node predicate so each filter runs its own monomorphic loop; build one from
 * a predicate with `predicateFilter`.
 */
export interface Filter {
  readonly name: string;
  filter(
    request: SelectionRequest,
    input: readonly NodeSnapshot[],
    n: number,
    output: NodeSnapshot[],
  ): number;
}

/** A Filter from a per-node predicate (the common case). */
export function predicateFilter(
  name: string,
  keep: (request: SelectionRequest, node: NodeSnapshot) => boolean,
): Filter {
  return {
    name,
    filter(request, input, n, output) {
      let m = 0;
      for (let i = 0; i < n; i++) {
        const node = input[i] as NodeSnapshot;
        if (keep(request, node)) output[m++] = node;
      }
      return m;
    },
  };
}

/**
 * Writes a score for each of the first `n` nodes into `out` (higher is better, meant to be 0..1;
 * the runner clamps, so NaN counts as 0). May explain the node it favoured via `reason`.
 */
export interface Scorer {
  readonly name: string;
  score(request: SelectionRequest, nodes: readonly NodeSnapshot[], n: number, out: Float64Array): void;
  /** A reason overriding the profile's for the node at `index` of the last `score` call. */
  reason?(index: number): string | undefined;
}

/** Chooses one of the first `n` nodes from their combined scores; -1 means none. */
export interface Picker {
  readonly name: string;
  /** False when the picker ignores scores (round robin), so the runner need not zero them. */
  readonly usesScores?: boolean;
  pick(
    request: SelectionRequest,
    nodes: readonly NodeSnapshot[],
    n: number,
    scores: Float64Array,
    rng: Rng,
  ): number;
}

/** A scorer with its weight in the profile's sum. */
export interface WeightedScorer {
  readonly scorer: Scorer;
  readonly weight: number;
}

/** One rung of a strategy: its filters, weighted scorers, picker and default decision reason. */
export interface Profile {
  readonly reason: string;
  readonly filters: readonly Filter[];
  readonly scorers: readonly WeightedScorer[];
  readonly picker: Picker;
}

/** Per-strategy state that learns from the job flow (see state/fleet-state.ts). */
export interface Lifecycle {
  dispatch(request: SelectionRequest, nodeId: string): void;
  outcome(outcome: JobOutcome): void;
  remove(nodeId: string): void;
  /** Entries held, for bounded-memory checks. */
  size(): number;
}

/** Everything the runner needs to build a strategy. */
export interface PipelineOptions {
  readonly name: string;
  readonly profiles: readonly Profile[];
  readonly rng: Rng;
  readonly observe?: ObserveHook | undefined;
  readonly lifecycle?: Lifecycle | undefined;
}

/** A Strategy built by the pipeline runner, with a size probe for memory tests. */
export interface PipelineStrategy extends Strategy {
  readonly profiles: readonly Profile[];
  /** Entries of learned per-node state currently held. */
  stateSize(): number;
}

/** Builds a Strategy that runs `profiles` in order over the candidates. */
export function createPipeline(options: PipelineOptions): PipelineStrategy {
  const { name, profiles, rng, observe, lifecycle } = options;
  let buf: NodeSnapshot[] = [];
  let total = new Float64Array(64);
  let part = new Float64Array(64);

  const filterInto = (profile: Profile, request: SelectionRequest, candidates: readonly NodeSnapshot[]) => {
    let n = candidates.length;
    let input = candidates;
    for (const filter of profile.filters) {
      const t0 = observe ? performance.now() : 0;
      n = filter.filter(request, input, n, buf);
      input = buf;
      if (observe) observe("filter", filter.name, (performance.now() - t0) / 1000);
      if (n === 0) break;
    }
    return n;
  };

  const runProfile = (
    profile: Profile,
    request: SelectionRequest,
    nodes: readonly NodeSnapshot[],
    n: number,
  ): Selection | undefined => {
    if (total.length < n) {
      total = new Float64Array(Math.max(n, total.length * 2));
      part = new Float64Array(total.length);
    }
    const scorers = profile.scorers;
    if (scorers.length === 0 && profile.picker.usesScores !== false) total.fill(0, 0, n);
    for (let k = 0; k < scorers.length; k++) {
      const { scorer, weight } = scorers[k] as WeightedScorer;
      const t0 = observe ? performance.now() : 0;
      scorer.score(request, nodes, n, part);
      // Clamp to 0..1 here, once, so no plugin can dominate a sum by misbehaving; NaN → 0.
      if (k === 0) {
        for (let i = 0; i < n; i++) {
          const v = part[i] as number;
          total[i] = weight * (v >= 0 ? Math.min(v, 1) : 0);
        }
      } else {
        for (let i = 0; i < n; i++) {
          const v = part[i] as number;
          total[i] = (total[i] as number) + weight * (v >= 0 ? Math.min(v, 1) : 0);
        }
      }
      if (observe) observe("score", scorer.name, (performance.now() - t0) / 1000);
    }
    const t0 = observe ? performance.now() : 0;
    const index = profile.picker.pick(request, nodes, n, total, rng);
    if (observe) observe("pick", profile.picker.name, (performance.now() - t0) / 1000);
    if (!(index >= 0 && index < n)) return undefined;
    const node = nodes[index] as NodeSnapshot;
    let reason = profile.reason;
    for (const { scorer } of profile.scorers) {
      const r = scorer.reason?.(index);
      if (r !== undefined) {
        reason = r;
        break;
      }
    }
    return { node, reason };
  };

  const strategy: PipelineStrategy = {
    name,
    profiles,
    select(request, candidates) {
      if (candidates.length === 0) return undefined;
      for (const profile of profiles) {
        let selection: Selection | undefined;
        if (profile.filters.length === 0) {
          selection = runProfile(profile, request, candidates, candidates.length);
        } else {
          const n = filterInto(profile, request, candidates);
          if (n === 0) continue;
          selection = runProfile(profile, request, buf, n);
        }
        if (selection !== undefined) return selection;
      }
      return undefined;
    },
    stateSize: () => lifecycle?.size() ?? 0,
  };
  if (lifecycle !== undefined) {
    strategy.onDispatch = (request, nodeId) => lifecycle.dispatch(request, nodeId);
    strategy.onOutcome = (outcome) => lifecycle.outcome(outcome);
    strategy.onNodeRemoved = (nodeId) => {
      lifecycle.remove(nodeId);
      // Drop references the filter buffer may still hold, so a removed node can be collected.
      buf = [];
    };
  }
  return strategy;
}
