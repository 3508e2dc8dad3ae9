// Dense integer handles for nodes, so per-node tables (the selector's caches) can be arrays
// indexed by a small integer instead of maps keyed by the node id. Node ids are not internalised
// strings, so V8 compares two of them with a call; an ordinal is a Smi and a generation check is
// one number comparison.

// Process-wide, so no two node records (of any store) ever share a generation: a table that
// remembers the generation it saw at an ordinal can never mistake a later node for that one.
let nextGeneration = 0;

/** A generation number never handed out before in this process (0, 1, 2, …). */
export function nextNodeGeneration(): number {
  const g = nextGeneration;
  // 2^30 - 1 is the largest Smi on every platform Node runs on; wrapping after a billion
  // registrations keeps the number a Smi (a reused generation would need a billion in between).
  nextGeneration = g >= 0x3fffffff ? 0 : g + 1;
  return g;
}

/**
 * Hands out ordinals 0, 1, 2, … to live nodes and takes them back when nodes are forgotten. A
 * released ordinal is handed out again, most recent first, so ordinals stay below the largest
 * number of nodes ever live at once and tables indexed by them stay dense.
 */
export class NodeOrdinals {
  private next = 0;
  private readonly free: number[] = [];
  private readonly freed = new Set<number>();

  /** An ordinal no live node holds. */
  allocate(): number {
    const reused = this.free.pop();
    if (reused === undefined) return this.next++;
    this.freed.delete(reused);
    return reused;
  }

  /** Gives back `ordinal` (its node is gone); releasing one not held is a bug and throws. */
  release(ordinal: number): void {
    if (!(Number.isInteger(ordinal) && ordinal >= 0 && ordinal < this.next) || this.freed.has(ordinal)) {
      throw new Error(`node ordinal ${ordinal} is not held`);
    }
    this.free.push(ordinal);
    this.freed.add(ordinal);
  }

  /** One more than the largest ordinal ever handed out: the length a table indexed by them needs. */
  get limit(): number {
    return this.next;
  }

  /** Ordinals held by live nodes. */
  get held(): number {
    return this.next - this.free.length;
  }
}
