import { describe, expect, it } from "vitest";
import { KvBlockPool } from "../../../src/sim/kv-cache.js";
import { promptBlockHashes } from "../../../src/sim/text.js";

describe("KvBlockPool", () => {
  it("allocates, counts usage and refuses when short", () => {
    const pool = new KvBlockPool(10);
    const a = pool.allocate(6);
    expect(a).toHaveLength(6);
    expect(pool.usage).toBeCloseTo(0.6);
    expect(pool.allocate(5)).toBeUndefined();
    pool.release(a ?? []);
    expect(pool.numFree).toBe(10);
    expect(pool.usage).toBe(0);
  });

  it("finds a released prefix until the allocator needs its blocks", () => {
    const pool = new KvBlockPool(4);
    const hashes = [11, 22, 33];
    const blocks = pool.allocate(3) ?? [];
    hashes.forEach((h, i) => {
      pool.register(blocks[i] as number, h);
    });
    pool.release(blocks);
    // Cached but unowned blocks count as free, as in vLLM.
    expect(pool.numFree).toBe(4);
    expect(pool.lookupPrefix(hashes, 10)).toEqual(blocks);
    expect(pool.lookupPrefix([11, 99, 33], 10)).toEqual([blocks[0]]);
    expect(pool.lookupPrefix(hashes, 2)).toHaveLength(2);

    const hit = pool.lookupPrefix(hashes, 10);
    expect(pool.countFree(hit)).toBe(3);
    pool.acquire(hit);
    expect(pool.numFree).toBe(1);
    pool.release(hit);

    // Two fresh blocks: the never-used one first, then the LRU cached one (the prefix's tail).
    pool.allocate(2);
    expect(pool.lookupPrefix(hashes, 10)).toEqual([blocks[0], blocks[1]]);
  });
});

describe("promptBlockHashes", () => {
  it("hashes full 16-token blocks cumulatively", () => {
    const base = "x".repeat(64 * 3);
    const a = promptBlockHashes({ text: `${base}tail` }, 16);
    const b = promptBlockHashes({ text: `${base}other tail` }, 16);
    expect(a).toHaveLength(3);
    expect(b.slice(0, 3)).toEqual(a);
    const c = promptBlockHashes({ text: `y${base.slice(1)}` }, 16);
    // Blocks 1 and 2 hold the same text but follow a different first block.
    expect(c[1]).not.toBe(a[1]);
    expect(promptBlockHashes({ ids: Array.from({ length: 40 }, (_, i) => i) }, 16)).toHaveLength(2);
  });
});
