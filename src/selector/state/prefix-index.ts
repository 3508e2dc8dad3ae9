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

/** A node's view in the index: its blocks, and its row in the match marks. */
export interface PrefixHolder {
  readonly blocks: Map<number, true>;
  /** The holder's row in MatchMarks (a FleetState record's RecordTable row). */
  readonly ix: number;
}

/**
 * Where `match` writes, by holder row: leading blocks matched, valid while the row's
 * `matchEpoch` is the index's current epoch. A RecordTable is one; its arrays may be replaced
 * when it grows, so the index reads them through this object at each match.
 */
export interface MatchMarks {
  readonly matched: Int32Array;
  readonly matchEpoch: Int32Array;
}

/**
 * The holders of a block held by more than one node, with their rows in an Int32Array: a walk
 * over a system prompt the whole fleet holds marks ~1,000 rows, and a loop over an Int32Array
 * does that in a third of the time a Set takes. A new holder is appended to the rows; one that
 * leaves (eviction, a node removed) has them rebuilt, in place, on the next walk.
 */
class HolderSet<H extends PrefixHolder> {
  readonly members: Set<H>;
  private buffer: Int32Array = new Int32Array(4);
  /** Rows in `buffer` (the first `count`); -1 while they need rebuilding. */
  private count = -1;

  constructor(a: H, b: H) {
    this.members = new Set([a, b]);
  }

  get size(): number {
    return this.members.size;
  }

  add(h: H): void {
    const before = this.members.size;
    this.members.add(h);
    if (this.members.size === before || this.count < 0) return;
    if (this.count === this.buffer.length) this.buffer = grown(this.buffer, this.count + 1);
    this.buffer[this.count++] = h.ix;
  }

  delete(h: H): void {
    if (this.members.delete(h)) this.count = -1;
  }

  /** The members' rows: `rows()[0 .. rowCount)`, valid until the members change. */
  rows(): Int32Array {
    if (this.count < 0) {
      if (this.buffer.length < this.members.size) this.buffer = new Int32Array(this.members.size * 2);
      let k = 0;
      for (const h of this.members) this.buffer[k++] = h.ix;
      this.count = k;
    }
    return this.buffer;
  }

  /** How many of `rows()` are rows (call `rows()` first). */
  get rowCount(): number {
    return this.count;
  }
}

function grown(a: Int32Array, min: number): Int32Array {
  const b = new Int32Array(Math.max(min, a.length * 2));
  b.set(a);
  return b;
}

/**
 * The holders of one block: the holder itself while it is the only one (most blocks past a
 * shared system prompt belong to one conversation on one node), a HolderSet once there are more.
 * A set per block cost an allocation for nearly every block of every dispatch, and the garbage
 * collector's threads then compete with decisions for the CPU.
 */
type Holders<H extends PrefixHolder> = H | HolderSet<H>;

function holderCount<H extends PrefixHolder>(entry: Holders<H> | undefined): number {
  return entry === undefined ? 0 : entry instanceof HolderSet ? entry.size : 1;
}

/** Block-hash index over many holders (see file comment). */
export class PrefixIndex<H extends PrefixHolder> {
  private readonly holders = new Map<number, Holders<H>>();
  private epoch = 0;
  /** Above this many holders of the first block, start them at the depth they all have. */
  private static readonly WALK_LIMIT = 32;

  /** `capacity`: blocks remembered per node; `marks`: where `match` writes, by holder row. */
  constructor(
    private readonly capacity: number,
    private readonly marks: MatchMarks,
  ) {}

  /** Epoch of the last `match`; a row's mark is valid only when its `matchEpoch` equals it. */
  get currentEpoch(): number {
    return this.epoch;
  }

  /** Leading blocks `holder` was found to hold by the last `match` (0 when it held none). */
  matchedBy(holder: H): number {
    const { matched, matchEpoch } = this.marks;
    return matchEpoch[holder.ix] === this.epoch ? (matched[holder.ix] as number) : 0;
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
      else if (entry instanceof HolderSet) entry.add(holder);
      else if (entry !== holder) this.holders.set(h, new HolderSet(entry, holder));
    }
    while (holder.blocks.size > this.capacity) {
      const oldest = holder.blocks.keys().next().value as number;
      holder.blocks.delete(oldest);
      this.unlink(oldest, holder);
    }
  }

  /**
   * Marks on every holder's row how many leading blocks of `keys` it holds (valid for this
   * epoch); returns the longest match. The holders of the first block are marked at level 1,
   * then each deeper level moves down the holders of its block that were at the level above (so
   * a run of blocks must be leading to count); the walk ends at the first level nobody moves to.
   * Holders of a level are read as rows (an Int32Array), not probed in a set: a level costs a
   * pass over its holders, ~1 ns each. Many holders of the first block — a system prompt the whole
   * fleet has seen — start at the depth all of them have, found by binary search (holder counts
   * only shrink with depth, the invariant above), instead of walking those levels one by one.
   */
  match(keys: Int32Array): number {
    this.epoch = (this.epoch + 1) | 0;
    const epoch = this.epoch;
    const { matched, matchEpoch } = this.marks;
    const first = keys.length > 0 ? this.holders.get(keys[0] as number) : undefined;
    if (first === undefined) return 0;
    let deepest = 1;
    if (first instanceof HolderSet) {
      if (first.size > PrefixIndex.WALK_LIMIT) deepest = this.lastLevel(keys, first.size);
      const rows = first.rows();
      const count = first.rowCount;
      for (let j = 0; j < count; j++) {
        const x = rows[j] as number;
        matched[x] = deepest;
        matchEpoch[x] = epoch;
      }
    } else {
      matched[first.ix] = 1;
      matchEpoch[first.ix] = epoch;
    }
    for (let level = deepest + 1; level <= keys.length; level++) {
      const entry = this.holders.get(keys[level - 1] as number);
      if (entry === undefined) break;
      let moved = false;
      if (entry instanceof HolderSet) {
        const rows = entry.rows();
        const count = entry.rowCount;
        for (let j = 0; j < count; j++) {
          const x = rows[j] as number;
          if (matchEpoch[x] === epoch && matched[x] === level - 1) {
            matched[x] = level;
            moved = true;
          }
        }
      } else if (matchEpoch[entry.ix] === epoch && matched[entry.ix] === level - 1) {
        matched[entry.ix] = level;
        moved = true;
      }
      if (!moved) break;
      deepest = level;
    }
    return deepest;
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
  }

  /** Distinct block hashes indexed. */
  get size(): number {
    return this.holders.size;
  }

  private unlink(hash: number, holder: H): void {
    const entry = this.holders.get(hash);
    if (entry === undefined) return;
    if (!(entry instanceof HolderSet)) {
      if (entry === holder) this.holders.delete(hash);
      return;
    }
    entry.delete(holder);
    if (entry.size === 1) this.holders.set(hash, entry.members.values().next().value as H);
    else if (entry.size === 0) this.holders.delete(hash);
  }
}
