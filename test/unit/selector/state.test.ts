import { describe, expect, it } from "vitest";
import { OnlineRegression } from "../../../src/selector/state/online-regression.js";
import {
  blockKey,
  blockKeys,
  type PrefixHolder,
  PrefixIndex,
} from "../../../src/selector/state/prefix-index.js";
import { modelParamsB, speedPrior } from "../../../src/selector/state/speed-prior.js";
import { gpu } from "./factory.js";

/** Match marks for `n` holders, as a RecordTable keeps them (epoch -1: never matched). */
const marksFor = (n: number) => ({ matched: new Int32Array(n), matchEpoch: new Int32Array(n).fill(-1) });
let rows = 0;
const holder = (): PrefixHolder => ({ blocks: new Map(), ix: rows++ });

describe("PrefixIndex", () => {
  it("keys blocks by a 30-bit fingerprint, the same for the same hash", () => {
    expect(blockKey((1n << 40n) + 5n)).toBe(5);
    expect(blockKey(0xffff_ffff_ffff_ffffn)).toBe(2 ** 30 - 1);
    const hashes = [1n, 2n];
    expect(blockKeys(hashes)).toBe(blockKeys(hashes)); // converted once per request
  });

  it("finds the longest leading match per holder", () => {
    const index = new PrefixIndex<PrefixHolder>(100, marksFor(1000));
    const a = holder();
    const b = holder();
    index.record(a, blockKeys([1n, 2n, 3n, 4n]));
    index.record(b, blockKeys([1n, 2n, 9n]));
    expect(index.match(blockKeys([1n, 2n, 3n, 5n]))).toBe(3);
    expect([index.matchedBy(a), index.matchedBy(b)]).toEqual([3, 2]);
    expect(index.matchOne(b, blockKeys([1n, 2n, 3n]))).toBe(2);
    expect(index.match(blockKeys([7n]))).toBe(0);
  });

  it("is an LRU per holder that evicts deep blocks before shared leading ones", () => {
    const index = new PrefixIndex<PrefixHolder>(4, marksFor(1000));
    const a = holder();
    index.record(a, blockKeys([1n, 2n, 3n]));
    index.record(a, blockKeys([1n, 5n, 6n]));
    expect(a.blocks.size).toBe(4);
    expect(index.matchOne(a, blockKeys([1n]))).toBe(1);
    expect(index.matchOne(a, blockKeys([1n, 2n]))).toBe(2);
    expect(a.blocks.has(blockKey(3n))).toBe(false);
    index.forget(a);
    expect(index.size).toBe(0);
  });
});

describe("OnlineRegression (RLS)", () => {
  it("recovers a linear law from noiseless samples and ignores non-finite ones", () => {
    const model = new OnlineRegression([0, 0], 1e4, 0.99);
    for (let i = 0; i < 50; i++) model.learn([1, i / 10], 3 + 2 * (i / 10));
    expect(model.learn([1, Number.NaN], 5)).toBe(false);
    expect(model.learn([1, 1], Number.POSITIVE_INFINITY)).toBe(false);
    expect(model.theta[0]).toBeCloseTo(3, 3);
    expect(model.theta[1]).toBeCloseTo(2, 3);
    expect(model.samples).toBe(50);
  });

  it("stays finite when a feature never varies (no wind-up blow-up)", () => {
    const model = new OnlineRegression([10, 1], 100, 0.9);
    for (let i = 0; i < 10_000; i++) model.learn([1, 0], 10);
    model.learn([1, 1e6], 5);
    expect(Number.isFinite(model.predict([1, 1]))).toBe(true);
  });
});

describe("speed priors", () => {
  it.each([
    ["llama-3.1-8b", 8],
    ["Qwen/Qwen3-4B", 4],
    ["gpt-oss-120b", 120],
    ["mixtral-8x7b", 7],
    ["smollm-360m", 0.36],
    ["llama-3.2-1b-instruct", 1],
    ["mystery-model", 8],
  ])("%s → %d B parameters", (model, size) => {
    expect(modelParamsB(model)).toBeCloseTo(size, 6);
  });

  it("orders GPUs by memory bandwidth for decode and by FLOPs for prefill", () => {
    const h100 = speedPrior([gpu("h100")], 8);
    const rtx = speedPrior([gpu("rtx4090")], 8);
    const two = speedPrior([gpu("rtx4090", 0), gpu("rtx4090", 1)], 8);
    expect(h100.decodeMsPerToken).toBeLessThan(rtx.decodeMsPerToken);
    expect(h100.prefillMsPerToken).toBeLessThan(rtx.prefillMsPerToken);
    expect(two.decodeMsPerToken).toBeLessThan(rtx.decodeMsPerToken);
    expect(rtx.decodeMsPerToken).toBeGreaterThan(15);
    expect(rtx.decodeMsPerToken).toBeLessThan(35);
    expect(speedPrior([], 8).decodeMsPerToken).toBeGreaterThan(0);
  });
});

describe("PrefixIndex at fleet scale", () => {
  it("marks the current holders of a block the whole fleet holds (the rows follow every change)", () => {
    const marks = marksFor(1000);
    const index = new PrefixIndex<PrefixHolder>(64, marks);
    const system = blockKeys([1n, 2n, 3n]);
    const fleet = Array.from({ length: 40 }, holder);
    for (const h of fleet) index.record(h, system);
    expect(index.match(system)).toBe(3); // above the walk limit: the rows are built here
    expect(fleet.every((h) => index.matchedBy(h) === 3)).toBe(true);
    // A new holder joins and one is forgotten; a holder without the block then takes the
    // forgotten one's row (as a new record takes a released table row).
    const late = holder();
    index.record(late, system);
    const gone = fleet.pop() as PrefixHolder;
    index.forget(gone);
    const reused: PrefixHolder = { blocks: new Map(), ix: gone.ix };
    index.record(reused, blockKeys([9n]));
    expect(index.match(system)).toBe(3);
    expect(index.matchedBy(late)).toBe(3);
    expect(index.matchedBy(reused)).toBe(0);
    expect(fleet.every((h) => index.matchedBy(h) === 3)).toBe(true);
    // A deeper level held by some: only they move down.
    const deep = blockKeys([1n, 2n, 3n, 4n]);
    for (const h of fleet.slice(0, 5)) index.record(h, deep);
    expect(index.match(deep)).toBe(4);
    expect(fleet.map((h) => index.matchedBy(h)).filter((d) => d === 4)).toHaveLength(5);
    index.forget(fleet[0] as PrefixHolder);
    expect(index.match(deep)).toBe(4);
    expect(index.matchedBy(fleet[0] as PrefixHolder)).toBe(0);
    expect(fleet.map((h) => index.matchedBy(h)).filter((d) => d === 4)).toHaveLength(4);
  });

  it("binary search over many holders agrees with a level walk (leading-run invariant under eviction)", () => {
    const index = new PrefixIndex<PrefixHolder>(48, marksFor(1000));
    const holders = Array.from({ length: 200 }, holder);
    const prompt = (family: number, depth: number) =>
      Array.from({ length: depth }, (_, i) => BigInt(family * 10_000 + i * 7 + (i > 20 ? family : 0)));
    // Every holder sees the shared system prompt, then a varying tail, with evictions.
    holders.forEach((h, k) => {
      index.record(h, blockKeys(prompt(1, 10 + (k % 40))));
      index.record(h, blockKeys(prompt(2 + (k % 3), 5 + (k % 30))));
    });
    const query = blockKeys(prompt(1, 50));
    expect(index.match(query)).toBeGreaterThan(20);
    for (const h of holders) {
      let walk = 0;
      while (walk < query.length && h.blocks.has(query[walk] as number)) walk++;
      expect(index.matchedBy(h)).toBe(walk);
      expect(index.matchOne(h, query)).toBe(walk);
    }
  });
});
