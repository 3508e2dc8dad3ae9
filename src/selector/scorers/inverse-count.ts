import type { NodeSnapshot } from "../../nodes/types.js";
import { activeRequests, finiteOr } from "../node-figures.js";
import type { Scorer } from "../pipeline.js";

/**
 * "Fewer is better" over a per-node count: score = (1 + min) / (1 + count), so the least loaded
 * candidate scores 1 and each extra request lowers the score by at least 1/((1+c)(2+c)) — more
 * than 1e-7 below ~3,000, which is what lets a 1e-7-weighted tie-breaker such as capability
 * never override a real difference.
 */
function inverseCount(name: string, count: (node: NodeSnapshot) => number): () => Scorer {
  return () => ({
    name,
    score(_request, nodes, n, out) {
      let min = Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const c = Math.max(0, count(nodes[i] as NodeSnapshot));
        out[i] = c;
        if (c < min) min = c;
      }
      for (let i = 0; i < n; i++) out[i] = (1 + min) / (1 + (out[i] as number));
    },
  });
}

/** Seed 000 step 5: fewest active requests (our in-flight count, or the engine's running + waiting). */
export const createFewestActiveScorer = inverseCount("fewest-active", activeRequests);

/** Seed 004 least_connections: fewest jobs in flight by the control plane's own count. */
export const createLeastConnectionsScorer = inverseCount("least-connections", (node) =>
  finiteOr(node.inFlight, 0),
);

/** Seed 004 equal_weighted: fewest connections ever (total requests dispatched). */
export const createFewestTotalScorer = inverseCount("fewest-total", (node) =>
  finiteOr(node.totalRequests, 0),
);
