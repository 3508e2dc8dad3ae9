import type { NodeSnapshot } from "../../nodes/types.js";
import { activeRequests, finiteOr } from "../node-figures.js";
import type { Scorer } from "../pipeline.js";

// "Fewer is better" over a per-node count: score = (1 + min) / (1 + count), so the least loaded
// candidate scores 1 and each extra request lowers the score by at least 1/((1+c)(2+c)) — more
// than 1e-7 below ~3,000, which is what lets a 1e-7-weighted tie-breaker such as capability
// never override a real difference.
//
// Each scorer has its own loop rather than one loop calling a count function: a loop shared by
// three counts calls three closures from one site, which V8 may not inline, and then every count
// is boxed on its way back.

/** Second pass of every count scorer: out[i] holds counts ≥ 0, `min` the least of them. */
function inverse(out: Float64Array, n: number, min: number): void {
  for (let i = 0; i < n; i++) out[i] = (1 + min) / (1 + (out[i] as number));
}

/** Seed 000 step 5: fewest active requests (our in-flight count, or the engine's running + waiting). */
export function createFewestActiveScorer(): Scorer {
  return {
    name: "fewest-active",
    score(_request, nodes, n, out) {
      let min = Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const c = Math.max(0, activeRequests(nodes[i] as NodeSnapshot));
        out[i] = c;
        if (c < min) min = c;
      }
      inverse(out, n, min);
    },
  };
}

/** Seed 004 least_connections: fewest jobs in flight by the control plane's own count. */
export function createLeastConnectionsScorer(): Scorer {
  return {
    name: "least-connections",
    score(_request, nodes, n, out) {
      let min = Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const c = Math.max(0, finiteOr((nodes[i] as NodeSnapshot).inFlight, 0));
        out[i] = c;
        if (c < min) min = c;
      }
      inverse(out, n, min);
    },
  };
}

/** Seed 004 equal_weighted: fewest connections ever (total requests dispatched). */
export function createFewestTotalScorer(): Scorer {
  return {
    name: "fewest-total",
    score(_request, nodes, n, out) {
      let min = Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const c = Math.max(0, finiteOr((nodes[i] as NodeSnapshot).totalRequests, 0));
        out[i] = c;
        if (c < min) min = c;
      }
      inverse(out, n, min);
    },
  };
}
