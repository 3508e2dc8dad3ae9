import type { Picker } from "../pipeline.js";
import type { Rng } from "../rng.js";

/** Scores closer than this are a tie (floating-point noise must not decide a placement). */
const EPSILON = 1e-9;

/** The max-score picker's tie band (see Scorer.scoreForMaxPick). */
export const MAX_SCORE_TIE = EPSILON;

/**
 * Picks the highest combined score; ties are broken uniformly at random with the runner's seeded
 * RNG (reservoir sampling: one pass, no allocation), so equal nodes share load evenly instead of
 * the first candidate taking everything.
 */
export function createMaxScorePicker(): Picker {
  return {
    name: "max-score",
    picksMax: true,
    pick: (_request, _nodes, n, scores, rng) => pickMax(scores, n, rng),
    pickWeighted: (_request, _nodes, n, raw, weight, rng) => pickMaxWeighted(raw, n, weight, rng),
  };
}

// The loops are module functions rather than closures in the factory: V8 specialises a function
// of which there is one instance to its context, so EPSILON is a constant in the loop instead of
// a context slot read (and checked) on every iteration.

function pickMax(scores: Float64Array, n: number, rng: Rng): number {
  let best = Number.NEGATIVE_INFINITY;
  let index = -1;
  let ties = 0;
  for (let i = 0; i < n; i++) {
    const s = scores[i] as number;
    if (s > best + EPSILON) {
      best = s;
      index = i;
      ties = 1;
    } else if (s >= best - EPSILON) {
      ties++;
      if (rng() * ties < 1) index = i;
    }
  }
  return index;
}

/** pickMax over clampScore(raw[i], weight) (pipeline.ts), written out so the loop stays one pass. */
function pickMaxWeighted(raw: Float64Array, n: number, weight: number, rng: Rng): number {
  let best = Number.NEGATIVE_INFINITY;
  let index = -1;
  let ties = 0;
  for (let i = 0; i < n; i++) {
    const v = raw[i] as number;
    const s = weight * (v >= 0 ? Math.min(v, 1) : 0);
    if (s > best + EPSILON) {
      best = s;
      index = i;
      ties = 1;
    } else if (s >= best - EPSILON) {
      ties++;
      if (rng() * ties < 1) index = i;
    }
  }
  return index;
}
