/** A uniform [0, 1) generator; everything seeded (strategies, the simulator, benchmarks) takes one. */
export type Rng = () => number;

/** A small seeded generator (mulberry32): fast, 32-bit state, reproducible across runs. */
export function createSeededRng(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
