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
 *
 * Keys are 30-bit fingerprints of the 64-bit hashes (small integers: a Map probe costs ~14 ns
 * where a BigInt key costs ~60), computed once per request. The set is approximate, as allowed:
 * a false match needs a fingerprint collision, about 2⁻²⁰ per probe for a node holding 1,000 blocks.
 */

/** A block's key in the index: the low 30 bits of its hash (a V8 small integer). */
export function blockKey(hash: bigint): number {
  return Number(BigInt.asUintN(30, hash));
}

// The same hash array reaches select (maybe several times) and onDispatch: convert it once.
const keyCache = new WeakMap<readonly bigint[], Int32Array>();

/** The fingerprints of a request's prefix hashes, cached per array. */
export function blockKeys(hashes: readonly bigint[]): Int32Array {
  let keys = keyCache.get(hashes);
  if (keys === undefined) {
    keys = new Int32Array(hashes.length);
    for (let i = 0; i < hashes.length; i++) keys[i] = blockKey(hashes[i] as bigint);
    keyCache.set(hashes, keys);
  }
  return keys;
}

/** A node's view in the index; the matching fields are scratch written by `match`. */
export interface PrefixHolder {
  readonly blocks: Map<number, true>;
  /** Leading blocks matched by the last `match` whose epoch is `matchEpoch`. */
  matched: number;
  matchEpoch: number;
}

/**
 * The holders of one block: the holder itself while it is the only one (most blocks past a
 * shared system prompt belong to one conversation on one node), a Set once there are more.
 * A Set per block cost an allocation for nearly every block of every dispatch, and the garbage
 * collector's threads then compete with decisions for the CPU.
 */
type Holders<H> = H | Set<H>;

function holderCount<H>(entry: Holders<H> | undefined): number {
  return entry === undefined ? 0 : entry instanceof Set ? entry.size : 1;
}

/** Block-hash index over many holders (see file comment). */
export class PrefixIndex<H extends PrefixHolder> {
  private readonly holders = new Map<number, Holders<H>>();
  private alive: H[] = [];
  private epoch = 0;
  /** Above this many holders of the first block, mark them all and walk deeper levels' sets. */
  private static readonly WALK_LIMIT = 32;

  /** `capacity`: blocks remembered per node. */
  constructor(private readonly capacity: number) {}

  /** Epoch of the last `match`; a holder's `matched` is valid only when its `matchEpoch` equals it. */
  get currentEpoch(): number {
    return this.epoch;
  }

  /** Records that `holder` now caches the blocks `keys` (a prompt's leading blocks, in order; see blockKeys). */
  record(holder: H, keys: Int32Array): void {
    // Deepest block first, so the shared leading blocks are the most recent and are evicted last.
    for (let i = keys.length - 1; i >= 0; i--) {
      const h = keys[i] as number;
      if (holder.blocks.delete(h)) {
        holder.blocks.set(h, true);
        continue;
      }
      holder.blocks.set(h, true);
      const entry = this.holders.get(h);
      if (entry === undefined) this.holders.set(h, holder);
      else if (entry instanceof Set) entry.add(holder);
      else if (entry !== holder) this.holders.set(h, new Set([entry, holder]));
    }
    while (holder.blocks.size > this.capacity) {
      const oldest = holder.blocks.keys().next().value as number;
      holder.blocks.delete(oldest);
      this.unlink(oldest, holder);
    }
  }

  /**
   * Marks on every holder how many leading blocks of `keys` it holds (valid for this epoch);
   * returns the longest match. Few holders: walk the levels narrowing the set (holders × depth
   * Set probes). Many holders — a system prompt the whole fleet has seen — mark them all with
   * the depth every one of them has, then walk only the deeper levels' holder sets, which are
   * small: a holder moves one level down when it is in the next level's set and was at the level
   * above (so a run of blocks must be leading to count, as in the walk).
   */
  match(keys: Int32Array): number {
    this.epoch = (this.epoch + 1) | 0;
    const epoch = this.epoch;
    const first = keys.length > 0 ? this.holders.get(keys[0] as number) : undefined;
    if (first === undefined) return 0;
    if (first instanceof Set && first.size > PrefixIndex.WALK_LIMIT) {
      // Holder counts only shrink with depth (the invariant), so a binary search finds the
      // levels every holder of the first block has.
      const all = first.size;
      const floor = this.lastLevel(keys, all);
      for (const h of first) {
        h.matched = floor;
        h.matchEpoch = epoch;
      }
      let deepest = floor;
      for (let level = floor + 1; level <= keys.length; level++) {
        const entry = this.holders.get(keys[level - 1] as number);
        if (entry === undefined) break;
        let moved = false;
        if (entry instanceof Set) {
          for (const h of entry) moved = deeper(h, level, epoch) || moved;
        } else moved = deeper(entry, level, epoch);
        if (!moved) break;
        deepest = level;
      }
      return deepest;
    }
    const alive = this.alive;
    let k = 0;
    if (first instanceof Set) for (const h of first) alive[k++] = h;
    else alive[k++] = first;
    for (let j = 0; j < k; j++) {
      const h = alive[j] as H;
      h.matched = 1;
      h.matchEpoch = epoch;
    }
    let depth = 1;
    for (let i = 1; i < keys.length && k > 0; i++) {
      const entry = this.holders.get(keys[i] as number);
      if (entry === undefined) break;
      let m = 0;
      for (let j = 0; j < k; j++) {
        const h = alive[j] as H;
        if (entry === h || (entry instanceof Set && entry.has(h))) {
          h.matched = i + 1;
          alive[m++] = h;
        }
      }
      k = m;
      if (k > 0) depth = i + 1;
    }
    return depth;
  }

  /** Leading blocks of `keys` that one holder has (without touching other holders). */
  matchOne(holder: H, keys: Int32Array): number {
    return keys.length > 0 && holder.blocks.has(keys[0] as number)
      ? this.depthOf(holder, keys, 1, keys.length)
      : 0;
  }

  /**
   * Depth of a holder known to hold at least `lo` leading blocks and at most `hi`. The
   * leading-run invariant makes it a search; galloping up from `lo` first settles the common
   * case (a holder of just the shared part) in one probe, then binary search narrows the rest.
   */
  private depthOf(holder: H, keys: Int32Array, lo: number, hi: number): number {
    const blocks = holder.blocks;
    for (let step = 1; lo < hi; step *= 2) {
      const probe = Math.min(lo + step, hi);
      if (!blocks.has(keys[probe - 1] as number)) {
        hi = probe - 1;
        break;
      }
      lo = probe;
    }
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (blocks.has(keys[mid - 1] as number)) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Number of leading levels held by exactly `count` holders (counts only shrink with depth), ≥ 1. */
  private lastLevel(keys: Int32Array, count: number): number {
    let lo = 1;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (holderCount(this.holders.get(keys[mid - 1] as number)) === count) lo = mid;
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

  private unlink(hash: number, holder: H): void {
    const entry = this.holders.get(hash);
    if (entry === undefined) return;
    if (!(entry instanceof Set)) {
      if (entry === holder) this.holders.delete(hash);
      return;
    }
    entry.delete(holder);
    if (entry.size === 1) this.holders.set(hash, entry.values().next().value as H);
    else if (entry.size === 0) this.holders.delete(hash);
  }
}

/** Moves `h` to `level` if it holds the level above in this epoch's match; says whether it did. */
function deeper<H extends PrefixHolder>(h: H, level: number, epoch: number): boolean {
  if (h.matchEpoch !== epoch || h.matched !== level - 1) return false;
  h.matched = level;
  return true;
}
