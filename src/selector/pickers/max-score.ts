import type { Picker } from "../pipeline.js";

/** Scores closer than this are a tie (floating-point noise must not decide a placement). */
const EPSILON = 1e-9;

/**
 * Picks the highest combined score; ties are broken uniformly at random with the runner's seeded
 * RNG (reservoir sampling: one pass, no allocation), so equal nodes share load evenly instead of
 * the first candidate taking everything.
 */
export function createMaxScorePicker(): Picker {
  return {
    name: "max-score",
    pick(_request, _nodes, n, scores, rng) {
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
    },
    pickWeighted(_request, _nodes, n, raw, weight, rng) {
      // pick() over clampScore(raw[i], weight), written out so the loop stays one tight pass.
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
    },
  };
}
