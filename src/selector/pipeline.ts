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
 * a predicate with `predicateFilter`. `slots[i]` is the candidate position of `input[i]` (for
 * per-node caches, see `Scorer.score`); a filter that keeps `input[i]` as `output[m]` writes
 * `kept[m] = slots[i]` (`kept` may be `slots` itself), so positions follow the nodes without a
 * second walk over the lists.
 */
export interface Filter {
  readonly name: string;
  filter(
    request: SelectionRequest,
    input: readonly NodeSnapshot[],
    n: number,
    output: NodeSnapshot[],
    slots: Int32Array,
    kept: Int32Array,
  ): number;
  /**
   * True when this request asks nothing of the filter (a requirement it does not state), so
   * the runner skips the pass: at 10,000 nodes even copying the list costs tens of µs.
   */
  keepsAll?(request: SelectionRequest): boolean;
}

/** A Filter from a per-node predicate (the common case). */
export function predicateFilter(
  name: string,
  keep: (request: SelectionRequest, node: NodeSnapshot) => boolean,
): Filter {
  return {
    name,
    filter(request, input, n, output, slots, kept) {
      let m = 0;
      for (let i = 0; i < n; i++) {
        const node = input[i] as NodeSnapshot;
        if (keep(request, node)) {
          output[m] = node;
          kept[m++] = slots[i] as number;
        }
      }
      return m;
    },
  };
}

/**
 * Writes a score for each of the first `n` nodes into `out` (higher is better, meant to be 0..1;
 * the runner clamps, so NaN counts as 0). May explain the node it favoured via `reason`.
 * `slots[i]` is the position of `nodes[i]` in the candidate list `select` was given, which stays
 * the same from call to call while filters reshuffle `nodes`: per-node caches are keyed by it
 * (and checked against the node, since the list may change).
 */
export interface Scorer {
  readonly name: string;
  score(
    request: SelectionRequest,
    nodes: readonly NodeSnapshot[],
    n: number,
    out: Float64Array,
    slots: Int32Array,
  ): void;
  /** A reason overriding the profile's for the node at `index` of the last `score` call. */
  reason?(index: number): string | undefined;
  /**
   * Optional `score` for a profile in which this scorer decides alone (weight `weight` ≥ 0) and
   * a max-score picker picks: the runner's fused path calls it instead of `score`. It may leave
   * out a node that is certain to trail the picker's running best by more than MAX_SCORE_TIE
   * when the picker reaches it (weighted and clamped, as the picker sees it), since such a node
   * changes nothing in a max-score pick. The scores of the nodes it keeps go to `out[0 … m)`,
   * in candidate order, their indices to `kept[0 … m)`; returns m. The picker then picks, and
   * draws its tie-breaks, exactly as it would from `score`'s scores of every node.
   */
  scoreForMaxPick?(
    request: SelectionRequest,
    nodes: readonly NodeSnapshot[],
    n: number,
    out: Float64Array,
    slots: Int32Array,
    weight: number,
    kept: Int32Array,
  ): number;
}

/** Chooses one of the first `n` nodes from their combined scores; -1 means none. `slots` as for scorers. */
export interface Picker {
  readonly name: string;
  /** False when the picker ignores scores (round robin), so the runner need not zero them. */
  readonly usesScores?: boolean;
  /**
   * True for max-score: the highest score wins, ties within MAX_SCORE_TIE; its `pickWeighted`
   * reads the scores alone, so the runner may hand it the list Scorer.scoreForMaxPick kept.
   */
  readonly picksMax?: boolean;
  pick(
    request: SelectionRequest,
    nodes: readonly NodeSnapshot[],
    n: number,
    scores: Float64Array,
    rng: Rng,
    slots: Int32Array,
  ): number;
  /**
   * Optional fused path for a profile with one scorer: chooses what `pick` would choose on
   * `weight × clamp01(raw[i])` (the runner's clamp, `clampScore`), computing each score on the
   * way instead of in a pass of its own. At 1,000 candidates a pass over the scores is ~2 µs.
   */
  pickWeighted?(
    request: SelectionRequest,
    nodes: readonly NodeSnapshot[],
    n: number,
    raw: Float64Array,
    weight: number,
    rng: Rng,
    slots: Int32Array,
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
  /** The node select just returned (its snapshot, for the dispatch that usually follows). */
  selected?(node: NodeSnapshot): void;
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
  // Filters write into one buffer from the other; `slots` holds the candidate positions of the
  // nodes they kept (filters write them), `identity` is 0, 1, 2, … for profiles that filter nothing.
  let front: NodeSnapshot[] = [];
  let back: NodeSnapshot[] = [];
  let slots = new Int32Array(64);
  let identity = Int32Array.from({ length: 64 }, (_, i) => i);
  let total = new Float64Array(64);
  let part = new Float64Array(64);
  let picked = new Int32Array(64);

  const reserve = (n: number) => {
    if (identity.length >= n) return;
    const size = Math.max(n, identity.length * 2);
    identity = Int32Array.from({ length: size }, (_, i) => i);
    slots = new Int32Array(size);
    total = new Float64Array(size);
    part = new Float64Array(size);
    picked = new Int32Array(size);
  };

  // What the last filterInto kept: the list (`candidates` itself when every filter was skipped
  // or kept everything) and the candidate position of each of its nodes.
  let kept: readonly NodeSnapshot[] = [];
  let keptSlots = identity;

  /** Runs the profile's filters over the candidates; returns how many nodes they kept. */
  const filterInto = (profile: Profile, request: SelectionRequest, candidates: readonly NodeSnapshot[]) => {
    let n = candidates.length;
    let input = candidates;
    let positions = identity;
    for (const filter of profile.filters) {
      if (filter.keepsAll?.(request) === true) continue;
      const t0 = observe ? performance.now() : 0;
      const output = input === front ? back : front;
      // Positions go from `identity` into `slots`, then stay there (in place: kept[m] with m ≤ i).
      const m = filter.filter(request, input, n, output, positions, slots);
      positions = slots;
      input = output;
      n = m;
      if (observe) observe("filter", filter.name, (performance.now() - t0) / 1000);
      if (n === 0) break;
    }
    kept = input;
    keptSlots = positions;
    return n;
  };

  const runProfile = (
    profile: Profile,
    request: SelectionRequest,
    nodes: readonly NodeSnapshot[],
    n: number,
    at: Int32Array,
  ): Selection | undefined => {
    const scorers = profile.scorers;
    const picker = profile.picker;
    if (scorers.length === 1 && picker.pickWeighted !== undefined) {
      // One scorer: its scores are clamped and weighted by the picker on its one pass.
      const { scorer, weight } = scorers[0] as WeightedScorer;
      const t0 = observe ? performance.now() : 0;
      if (picker.picksMax === true && scorer.scoreForMaxPick !== undefined && weight >= 0) {
        // The picker sees only the nodes that can make a difference to a max-score pick.
        const m = scorer.scoreForMaxPick(request, nodes, n, total, at, weight, picked);
        const t1 = observe ? performance.now() : 0;
        if (observe) observe("score", scorer.name, (t1 - t0) / 1000);
        const j = picker.pickWeighted(request, nodes, m, total, weight, rng, at);
        if (observe) observe("pick", picker.name, (performance.now() - t1) / 1000);
        return selectionAt(profile, nodes, n, j >= 0 && j < m ? (picked[j] as number) : -1);
      }
      scorer.score(request, nodes, n, total, at);
      const t1 = observe ? performance.now() : 0;
      if (observe) observe("score", scorer.name, (t1 - t0) / 1000);
      const index = picker.pickWeighted(request, nodes, n, total, weight, rng, at);
      if (observe) observe("pick", picker.name, (performance.now() - t1) / 1000);
      return selectionAt(profile, nodes, n, index);
    }
    if (scorers.length === 0 && picker.usesScores !== false) total.fill(0, 0, n);
    for (let k = 0; k < scorers.length; k++) {
      const { scorer, weight } = scorers[k] as WeightedScorer;
      const t0 = observe ? performance.now() : 0;
      // The first scorer writes straight into the total, clamped in place: one array less to
      // stream through per decision.
      scorer.score(request, nodes, n, k === 0 ? total : part, at);
      // Clamp to 0..1 here, once, so no plugin can dominate a sum by misbehaving; NaN → 0.
      if (k === 0) clampInto(total, total, weight, n);
      else addClamped(total, part, weight, n);
      if (observe) observe("score", scorer.name, (performance.now() - t0) / 1000);
    }
    const t0 = observe ? performance.now() : 0;
    const index = picker.pick(request, nodes, n, total, rng, at);
    if (observe) observe("pick", picker.name, (performance.now() - t0) / 1000);
    return selectionAt(profile, nodes, n, index);
  };

  const strategy: PipelineStrategy = {
    name,
    profiles,
    select(request, candidates) {
      if (candidates.length === 0) return undefined;
      reserve(candidates.length);
      for (const profile of profiles) {
        let selection: Selection | undefined;
        if (profile.filters.length === 0) {
          selection = runProfile(profile, request, candidates, candidates.length, identity);
        } else {
          const n = filterInto(profile, request, candidates);
          if (n === 0) continue;
          selection = runProfile(profile, request, kept, n, keptSlots);
        }
        if (selection !== undefined) {
          lifecycle?.selected?.(selection.node);
          return selection;
        }
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
      // Drop references the filter buffers may still hold, so a removed node can be collected.
      front = [];
      back = [];
      kept = [];
    };
  }
  return strategy;
}

/** The Selection for the picked index (none when out of range), with the first scorer's reason. */
function selectionAt(
  profile: Profile,
  nodes: readonly NodeSnapshot[],
  n: number,
  index: number,
): Selection | undefined {
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
}

/** The runner's clamp: weight × the score clamped to 0..1, NaN counting as 0. */
export function clampScore(v: number, weight: number): number {
  return weight * (v >= 0 ? Math.min(v, 1) : 0);
}

/** total[i] = weight × clamp01(part[i]) for the first n. */
function clampInto(total: Float64Array, part: Float64Array, weight: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = part[i] as number;
    total[i] = weight * (v >= 0 ? Math.min(v, 1) : 0);
  }
}

/** total[i] += weight × clamp01(part[i]) for the first n. */
function addClamped(total: Float64Array, part: Float64Array, weight: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = part[i] as number;
    total[i] = (total[i] as number) + weight * (v >= 0 ? Math.min(v, 1) : 0);
  }
}
