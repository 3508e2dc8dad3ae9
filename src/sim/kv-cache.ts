// Paged KV cache with automatic prefix caching, after vLLM v1's BlockPool / KVCacheManager.
//
// Blocks with no owner sit in one LRU free list. A freed block that carries a prefix hash stays
// findable until the allocator reuses it (evicting the hash), so a repeated prompt finds its blocks
// as long as nothing needed the memory in between: caching never reduces capacity.

/** A fixed pool of KV blocks with reference counts, an LRU free list and a hash → block index. */
export class KvBlockPool {
  /** Total blocks in the pool. */
  readonly numBlocks: number;
  private readonly refs: Int32Array;
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private readonly hashes: (number | undefined)[];
  private readonly byHash = new Map<number, number>();
  private head = -1;
  private tail = -1;
  private freeCount = 0;

  constructor(numBlocks: number) {
    this.numBlocks = numBlocks;
    this.refs = new Int32Array(numBlocks);
    this.prev = new Int32Array(numBlocks).fill(-1);
    this.next = new Int32Array(numBlocks).fill(-1);
    this.hashes = new Array<number | undefined>(numBlocks).fill(undefined);
    for (let id = 0; id < numBlocks; id++) this.pushTail(id);
  }

  /** Blocks not owned by any sequence (cached-but-evictable ones included), as vLLM counts them. */
  get numFree(): number {
    return this.freeCount;
  }

  /** Fraction of blocks owned by sequences: vllm:kv_cache_usage_perc. */
  get usage(): number {
    return this.numBlocks === 0 ? 0 : 1 - this.freeCount / this.numBlocks;
  }

  /** Number of blocks cached under a hash (owned or not). */
  get numCached(): number {
    return this.byHash.size;
  }

  /** The blocks holding the longest cached prefix of `hashes`, at most `maxBlocks` of them. */
  lookupPrefix(hashes: readonly number[], maxBlocks: number): number[] {
    const found: number[] = [];
    const limit = Math.min(hashes.length, maxBlocks);
    for (let i = 0; i < limit; i++) {
      const id = this.byHash.get(hashes[i] as number);
      if (id === undefined) break;
      found.push(id);
    }
    return found;
  }

  /** How many of `ids` are now free, i.e. would leave the free list if acquired. */
  countFree(ids: readonly number[]): number {
    let n = 0;
    for (const id of ids) if (this.refs[id] === 0) n++;
    return n;
  }

  /** Takes a reference on cached blocks found by lookupPrefix. */
  acquire(ids: readonly number[]): void {
    for (const id of ids) {
      if (this.refs[id] === 0) this.unlink(id);
      this.refs[id] = (this.refs[id] as number) + 1;
    }
  }

  /** Allocates `n` blocks from the LRU end of the free list, evicting their hashes; undefined when short. */
  allocate(n: number): number[] | undefined {
    if (n > this.freeCount) return undefined;
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = this.head;
      this.unlink(id);
      const hash = this.hashes[id];
      if (hash !== undefined) {
        if (this.byHash.get(hash) === id) this.byHash.delete(hash);
        this.hashes[id] = undefined;
      }
      this.refs[id] = 1;
      ids.push(id);
    }
    return ids;
  }

  /**
   * Drops one reference on each block. Blocks are returned tail first, as vLLM does, so a sequence's
   * last blocks are evicted before its first ones (the shared prefix lives longest).
   */
  release(ids: readonly number[]): void {
    for (let i = ids.length - 1; i >= 0; i--) {
      const id = ids[i] as number;
      const refs = (this.refs[id] as number) - 1;
      this.refs[id] = refs;
      if (refs === 0) this.pushTail(id);
    }
  }

  /** Marks a block as holding the (cumulative) prefix `hash`, once its tokens are computed. */
  register(id: number, hash: number): void {
    if (this.hashes[id] !== undefined || this.byHash.has(hash)) return;
    this.hashes[id] = hash;
    this.byHash.set(hash, id);
  }

  private pushTail(id: number): void {
    this.prev[id] = this.tail;
    this.next[id] = -1;
    if (this.tail >= 0) this.next[this.tail] = id;
    else this.head = id;
    this.tail = id;
    this.freeCount++;
  }

  private unlink(id: number): void {
    const p = this.prev[id] as number;
    const n = this.next[id] as number;
    if (p >= 0) this.next[p] = n;
    else this.head = n;
    if (n >= 0) this.prev[n] = p;
    else this.tail = p;
    this.prev[id] = -1;
    this.next[id] = -1;
    this.freeCount--;
  }
}
