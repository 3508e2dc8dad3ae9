/**
 * Approximate index of which node holds which prompt-prefix blocks in its KV cache, fed from
 * dispatches (a node that served a prompt has its blocks cached, until evicted).
 *
 * Per node: an LRU of at most `capacity` block hashes (a Map in insertion order; a touch re-inserts),
 * standing in for the engine's own prefix cache eviction. Globally: block hash → holders, so a
 * lookup walks only nodes that hold the request's first block instead of probing every candidate.
 * Memory is bounded by nodes × capacity entries.
 *
 * Invariant: a holder's blocks for a prompt are always a leading run. Prefix hashes are
 * cumulative (hash i covers blocks 0..i, so any prompt touching block i touches 0..i−1), and
 * blocks are inserted deepest first, so a shallower block is never older than a deeper one and
 * LRU eviction never leaves a gap. That is what lets `match` binary-search a holder's depth.
 */

/** A node's view in the index; the matching fields are scratch written by `match`. */
export interface PrefixHolder {
  readonly blocks: Map<bigint, true>;
  /** Leading blocks matched by the last `match` whose epoch is `matchEpoch`. */
  matched: number;
  matchEpoch: number;
}

/** Block-hash index over many holders (see file comment). */
export class PrefixIndex<H extends PrefixHolder> {
  private readonly holders = new Map<bigint, Set<H>>();
  private alive: H[] = [];
  private epoch = 0;
  /** Above this many holders of the first block, binary-search each one instead of walking levels. */
  private static readonly WALK_LIMIT = 32;

  /** `capacity`: blocks remembered per node. */
  constructor(private readonly capacity: number) {}

  /** Epoch of the last `match`; a holder's `matched` is valid only when its `matchEpoch` equals it. */
  get currentEpoch(): number {
    return this.epoch;
  }

  /** Records that `holder` now caches the blocks `hashes` (a prompt's leading blocks, in order). */
  record(holder: H, hashes: readonly bigint[]): void {
    // Deepest block first, so the shared leading blocks are the most recent and are evicted last.
    for (let i = hashes.length - 1; i >= 0; i--) {
      const h = hashes[i] as bigint;
      if (holder.blocks.delete(h)) {
        holder.blocks.set(h, true);
        continue;
      }
      holder.blocks.set(h, true);
      let set = this.holders.get(h);
      if (set === undefined) {
        set = new Set();
        this.holders.set(h, set);
      }
      set.add(holder);
    }
    while (holder.blocks.size > this.capacity) {
      const oldest = holder.blocks.keys().next().value as bigint;
      holder.blocks.delete(oldest);
      this.unlink(oldest, holder);
    }
  }

  /**
   * Marks on every holder how many leading blocks of `hashes` it holds (valid for this epoch);
   * returns the longest match. Few holders: walk the levels narrowing the set (holders × depth
   * Set probes). Many holders — a system prompt the whole fleet has seen — binary-search each
   * holder's own blocks instead (holders × log₂ depth).
   */
  match(hashes: readonly bigint[]): number {
    this.epoch = (this.epoch + 1) | 0;
    const first = hashes.length > 0 ? this.holders.get(hashes[0] as bigint) : undefined;
    if (first === undefined) return 0;
    if (first.size > PrefixIndex.WALK_LIMIT) {
      // Holder counts only shrink with depth (the invariant), so two global binary searches
      // bound every holder's depth: all of them hold the levels whose count still equals the
      // first block's, and nobody holds beyond the deepest non-empty level.
      const all = first.size;
      const floor = this.lastLevel(hashes, (size) => size === all);
      const ceiling = this.lastLevel(hashes, (size) => size > 0);
      let deepest = 0;
      for (const h of first) {
        const depth = floor === ceiling ? floor : this.depthOf(h, hashes, floor, ceiling);
        h.matched = depth;
        h.matchEpoch = this.epoch;
        if (depth > deepest) deepest = depth;
      }
      return deepest;
    }
    const alive = this.alive;
    let k = 0;
    for (const h of first) {
      h.matched = 1;
      h.matchEpoch = this.epoch;
      alive[k++] = h;
    }
    let depth = 1;
    for (let i = 1; i < hashes.length && k > 0; i++) {
      const set = this.holders.get(hashes[i] as bigint);
      if (set === undefined) break;
      let m = 0;
      for (let j = 0; j < k; j++) {
        const h = alive[j] as H;
        if (set.has(h)) {
          h.matched = i + 1;
          alive[m++] = h;
        }
      }
      k = m;
      if (k > 0) depth = i + 1;
    }
    return depth;
  }

  /** Leading blocks of `hashes` that one holder has (without touching other holders). */
  matchOne(holder: H, hashes: readonly bigint[]): number {
    return hashes.length > 0 && holder.blocks.has(hashes[0] as bigint)
      ? this.depthOf(holder, hashes, 1, hashes.length)
      : 0;
  }

  /**
   * Depth of a holder known to hold at least `lo` leading blocks and at most `hi`. The
   * leading-run invariant makes it a search; galloping up from `lo` first settles the common
   * case (a holder of just the shared part) in one probe, then binary search narrows the rest.
   */
  private depthOf(holder: H, hashes: readonly bigint[], lo: number, hi: number): number {
    const blocks = holder.blocks;
    for (let step = 1; lo < hi; step *= 2) {
      const probe = Math.min(lo + step, hi);
      if (!blocks.has(hashes[probe - 1] as bigint)) {
        hi = probe - 1;
        break;
      }
      lo = probe;
    }
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (blocks.has(hashes[mid - 1] as bigint)) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Number of leading levels whose holder count satisfies `ok` (a monotone predicate), ≥ 1. */
  private lastLevel(hashes: readonly bigint[], ok: (size: number) => boolean): number {
    let lo = 1;
    let hi = hashes.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ok(this.holders.get(hashes[mid - 1] as bigint)?.size ?? 0)) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Forgets everything `holder` caches (node removed). */
  forget(holder: H): void {
    for (const h of holder.blocks.keys()) this.unlink(h, holder);
    holder.blocks.clear();
    this.alive = [];
  }

  /** Distinct block hashes indexed. */
  get size(): number {
    return this.holders.size;
  }

  private unlink(hash: bigint, holder: H): void {
    const set = this.holders.get(hash);
    if (set === undefined) return;
    set.delete(holder);
    if (set.size === 0) this.holders.delete(hash);
  }
}
