/** Something an IndexedHeap can hold: the heap writes the element's slot into `heapIndex` (-1 when outside). */
export interface HeapNode {
  heapIndex: number;
}

/**
 * A binary min-heap whose elements carry their own position, so removing an arbitrary element or
 * re-keying one is O(log n) without a side map. The queue needs both: a user leaves a model's
 * ordering when its last item there goes, and moves when it is served or charged.
 */
export class IndexedHeap<E extends HeapNode> {
  readonly #items: E[] = [];
  readonly #less: (a: E, b: E) => boolean;

  /** `less(a, b)` must be a strict total order, or pop order stops being deterministic. */
  constructor(less: (a: E, b: E) => boolean) {
    this.#less = less;
  }

  /** Number of elements. */
  get size(): number {
    return this.#items.length;
  }

  /** The smallest element, without removing it. */
  peek(): E | undefined {
    return this.#items[0];
  }

  /** Insert an element that is not in any heap. */
  push(e: E): void {
    e.heapIndex = this.#items.length;
    this.#items.push(e);
    this.#up(e.heapIndex);
  }

  /** Remove an element of this heap; a no-op for one outside. */
  remove(e: E): void {
    const i = e.heapIndex;
    if (i < 0 || this.#items[i] !== e) return;
    const last = this.#items.pop() as E;
    e.heapIndex = -1;
    if (last === e) return;
    this.#items[i] = last;
    last.heapIndex = i;
    this.#up(i);
    this.#down(last.heapIndex);
  }

  /** Restore order after the key of `e` changed, in either direction. */
  update(e: E): void {
    const i = e.heapIndex;
    if (i < 0 || this.#items[i] !== e) return;
    this.#up(i);
    this.#down(e.heapIndex);
  }

  #up(i: number): void {
    const items = this.#items;
    const e = items[i] as E;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p] as E;
      if (!this.#less(e, parent)) break;
      items[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    items[i] = e;
    e.heapIndex = i;
  }

  #down(i: number): void {
    const items = this.#items;
    const n = items.length;
    const e = items[i] as E;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && this.#less(items[r] as E, items[l] as E)) c = r;
      const child = items[c] as E;
      if (!this.#less(child, e)) break;
      items[i] = child;
      child.heapIndex = i;
      i = c;
    }
    items[i] = e;
    e.heapIndex = i;
  }
}
