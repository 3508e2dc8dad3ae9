import { describe, expect, it } from "vitest";
import { KvBlockPool } from "../../../src/sim/kv-cache.js";
import { SimStats } from "../../../src/sim/metrics.js";
import type { SequenceSpec } from "../../../src/sim/scheduler.js";
import { Scheduler } from "../../../src/sim/scheduler.js";

function spec(promptTokens: number, outputs: number, hashes: number[] = []): SequenceSpec {
  return {
    promptTokens,
    blockHashes: hashes,
    outputTokens: Array.from({ length: outputs }, (_, i) => `t${i}`),
    finishReason: "length",
  };
}

/** Runs plan/commit until idle; returns the tokens each sink saw and the number of steps. */
function drain(s: Scheduler, limit = 100_000): number {
  let steps = 0;
  for (let plan = s.plan(0); plan !== undefined; plan = s.plan(steps)) {
    s.commit(plan, ++steps);
    if (steps > limit) throw new Error("did not drain");
  }
  return steps;
}

function collector() {
  const tokens: string[] = [];
  let finish: string | undefined;
  return {
    tokens,
    get finish() {
      return finish;
    },
    sink: {
      onToken(text: string, _index: number, f: "stop" | "length" | undefined) {
        tokens.push(text);
        if (f !== undefined) finish = f;
      },
    },
  };
}

describe("Scheduler", () => {
  it("prefills a long prompt in chunks of the token budget before the first token", () => {
    const pool = new KvBlockPool(10_000);
    const s = new Scheduler(pool, new SimStats(), {
      maxNumSeqs: 8,
      maxNumBatchedTokens: 8192,
      blockSize: 16,
    });
    const c = collector();
    s.add(spec(20_000, 3), c.sink, 0);
    const first = s.plan(0);
    expect(first?.work.tokens).toBe(8192);
    s.commit(first as NonNullable<typeof first>, 1);
    expect(c.tokens).toEqual([]);
    const steps = 1 + drain(s);
    expect(steps).toBe(3 + 2); // three prefill chunks (the last samples t0), then two decodes
    expect(c.tokens).toEqual(["t0", "t1", "t2"]);
    expect(c.finish).toBe("length");
    expect(pool.usage).toBe(0);
  });

  it("shares the budget: decodes first, new prompts fill the rest", () => {
    const s = new Scheduler(new KvBlockPool(1000), new SimStats(), {
      maxNumSeqs: 8,
      maxNumBatchedTokens: 100,
      blockSize: 16,
    });
    s.add(spec(10, 50), collector().sink, 0);
    s.commit(s.plan(0) as NonNullable<ReturnType<Scheduler["plan"]>>, 1);
    s.add(spec(500, 5), collector().sink, 1);
    const plan = s.plan(1);
    expect(plan?.entries.map((e) => e.newTokens)).toEqual([1, 99]);
  });

  it("preempts the newest sequence when decode needs a block and none is free, and still finishes all", () => {
    const pool = new KvBlockPool(10); // 160 tokens
    const stats = new SimStats();
    const s = new Scheduler(pool, stats, { maxNumSeqs: 8, maxNumBatchedTokens: 8192, blockSize: 16 });
    const a = collector();
    const b = collector();
    s.add(spec(64, 60), a.sink, 0);
    s.add(spec(64, 60), b.sink, 0);
    drain(s);
    expect(stats.preemptions).toBeGreaterThan(0);
    // Recomputation never repeats or skips a token.
    expect(a.tokens).toEqual(Array.from({ length: 60 }, (_, i) => `t${i}`));
    expect(b.tokens).toEqual(a.tokens);
    expect(stats.completed).toBe(2);
    expect(pool.usage).toBe(0);
  });

  it("holds the queue when max_num_seqs or free blocks run out, and frees blocks on abort", () => {
    const pool = new KvBlockPool(20);
    const stats = new SimStats();
    const s = new Scheduler(pool, stats, { maxNumSeqs: 2, maxNumBatchedTokens: 8192, blockSize: 16 });
    const seqs = [s.add(spec(100, 10), collector().sink, 0), s.add(spec(100, 10), collector().sink, 0)];
    s.add(spec(10, 10), collector().sink, 0);
    s.plan(0);
    expect(s.numRunning).toBe(2);
    expect(s.numWaiting).toBe(1);
    expect(pool.usage).toBeCloseTo(14 / 20);
    s.abort(seqs[0] as NonNullable<(typeof seqs)[0]>);
    expect(s.numRunning).toBe(1);
    expect(pool.usage).toBeCloseTo(7 / 20);
    expect(stats.cancelled).toBe(1);
  });

  it("counts prefix-cache queries and hits per admitted prompt", () => {
    const pool = new KvBlockPool(100);
    const stats = new SimStats();
    const s = new Scheduler(pool, stats, { maxNumSeqs: 8, maxNumBatchedTokens: 8192, blockSize: 16 });
    const hashes = [1, 2, 3, 4];
    s.add(spec(70, 2, hashes), collector().sink, 0);
    drain(s);
    s.add(spec(70, 2, hashes), collector().sink, 0);
    const plan = s.plan(0);
    expect(plan?.entries[0]?.newTokens).toBe(70 - 64);
    expect(stats.prefixQueries).toBe(140);
    expect(stats.prefixHits).toBe(64);
  });
});
