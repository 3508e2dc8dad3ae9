import { describe, expect, it } from "vitest";
import { IndexedHeap } from "../../../src/queue/heap.js";
import { prng } from "./fixtures.js";

interface Node {
  key: number;
  readonly id: number;
  heapIndex: number;
}

describe("IndexedHeap", () => {
  it("matches a sorted reference under random push / remove / re-key", () => {
    const rand = prng(7);
    const heap = new IndexedHeap<Node>((a, b) => a.key < b.key || (a.key === b.key && a.id < b.id));
    const inside = new Set<Node>();
    for (let i = 0; i < 5000; i++) {
      const r = rand();
      const members = [...inside];
      if (r < 0.4 || members.length === 0) {
        const n: Node = { key: Math.floor(rand() * 100), id: i, heapIndex: -1 };
        heap.push(n);
        inside.add(n);
      } else if (r < 0.7) {
        const n = members[Math.floor(rand() * members.length)] as Node;
        heap.remove(n);
        expect(n.heapIndex).toBe(-1);
        inside.delete(n);
      } else {
        const n = members[Math.floor(rand() * members.length)] as Node;
        n.key = Math.floor(rand() * 100);
        heap.update(n);
      }
      const best = [...inside].sort((a, b) => a.key - b.key || a.id - b.id)[0];
      expect(heap.peek()).toBe(best);
      expect(heap.size).toBe(inside.size);
    }
  });

  it("ignores remove and update of an element it does not hold", () => {
    const heap = new IndexedHeap<Node>((a, b) => a.key < b.key);
    const outside: Node = { key: 1, id: 1, heapIndex: -1 };
    heap.remove(outside);
    heap.update(outside);
    expect(heap.size).toBe(0);
  });
});
