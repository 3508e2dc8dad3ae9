/** Turns two cumulative counters (hits, queries) into a recent hit rate. */
export interface CounterRatio {
  /** Feeds the counters' current totals; returns the hit rate 0..1, or undefined when unknown. */
  update(hits: number, queries: number): number | undefined;
}

/**
 * Creates a counter-ratio tracker. vLLM exports prefix-cache hits and queries as counters (tokens);
 * the hit rate that matters for routing is rate(hits)/rate(queries) over the last probe interval.
 * The first probe, and the one after a counter reset (engine restart), can only use the lifetime
 * ratio. An interval with no queries keeps the previous rate: nothing happened to change it.
 */
export function createCounterRatio(): CounterRatio {
  let prev: { hits: number; queries: number } | undefined;
  let last: number | undefined;
  const ratio = (h: number, q: number): number | undefined =>
    q > 0 ? Math.min(1, Math.max(0, h / q)) : undefined;
  return {
    update(hits, queries) {
      if (!Number.isFinite(hits) || !Number.isFinite(queries)) return last;
      const dh = prev === undefined ? Number.NaN : hits - prev.hits;
      const dq = prev === undefined ? Number.NaN : queries - prev.queries;
      if (prev === undefined || dh < 0 || dq < 0) last = ratio(hits, queries);
      else if (dq > 0) last = ratio(dh, dq);
      prev = { hits, queries };
      return last;
    },
  };
}
