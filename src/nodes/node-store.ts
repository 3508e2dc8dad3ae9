import { EventEmitter } from "node:events";
import { NodeOrdinals, nextNodeGeneration } from "./node-ordinals.js";
import { NodeRecord } from "./node-record.js";
import type { NodeState } from "./types.js";

/** Events the store emits; WatchNodes, the dashboard and the scheduler listen. */
export type NodeEvent =
  | { type: "joined"; node: NodeRecord }
  | { type: "updated"; node: NodeRecord }
  | { type: "state"; node: NodeRecord; from: NodeState }
  | { type: "removed"; node: NodeRecord };

/** Options of the node store. */
export interface NodeStoreOptions {
  /** A signal older than this is treated as missing. */
  staleMs: number;
  /** An offline node keeps its identity this long, so a reconnect resumes it. */
  offlineGraceMs: number;
  clock?: () => number;
}

/**
 * In-memory registry of nodes, with an index from model id/alias to the nodes serving it, and the
 * set of models ever served (to tell 404 "unknown model" from 503 "no node right now").
 */
export class NodeStore {
  private readonly nodes = new Map<string, NodeRecord>();
  private readonly byModel = new Map<string, Set<NodeRecord>>();
  private readonly everServed = new Set<string>();
  private readonly ordinals = new NodeOrdinals();
  private readonly events = new EventEmitter();
  private readonly clock: () => number;
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(private readonly opts: NodeStoreOptions) {
    this.clock = opts.clock ?? Date.now;
    this.events.setMaxListeners(0);
    // Forget nodes whose grace period has passed; once a second is plenty for a 300 s grace.
    this.sweepTimer = setInterval(() => this.sweep(), Math.min(1000, Math.max(50, opts.offlineGraceMs / 4)));
    this.sweepTimer.unref();
  }

  /** Subscribes to node events; returns the unsubscribe function. */
  subscribe(listener: (e: NodeEvent) => void): () => void {
    this.events.on("event", listener);
    return () => this.events.off("event", listener);
  }

  private emit(e: NodeEvent): void {
    this.events.emit("event", e);
  }

  get(id: string): NodeRecord | undefined {
    return this.nodes.get(id);
  }

  /** All known nodes, offline ones in their grace period included. */
  all(): IterableIterator<NodeRecord> {
    return this.nodes.values();
  }

  get size(): number {
    return this.nodes.size;
  }

  /** One more than the largest ordinal a node of this store holds or held: the size of a table by ordinal. */
  get ordinalLimit(): number {
    return this.ordinals.limit;
  }

  /** Nodes (any state) that serve a model id or alias. */
  serving(model: string): ReadonlySet<NodeRecord> {
    return this.byModel.get(model) ?? EMPTY;
  }

  /** Whether any node has ever served this model (since start). */
  known(model: string): boolean {
    return this.everServed.has(model);
  }

  /** Creates the record for a registering node, or returns the one being resumed. */
  upsert(id: string): { node: NodeRecord; resumed: boolean } {
    const existing = this.nodes.get(id);
    if (existing) return { node: existing, resumed: true };
    // A new record gets a free ordinal (a resumed one keeps its own), and a new generation.
    const node = new NodeRecord(id, this.opts.staleMs, this.clock, this.ordinals.allocate());
    this.nodes.set(id, node);
    return { node, resumed: false };
  }

  /**
   * Announces a new or resumed node once its registration is applied. The node gets a new
   * generation: its GPU list and labels may be new, and per-node caches keyed by ordinal
   * (the selector's) recompute what they derived from them.
   */
  announce(node: NodeRecord, resumed: boolean): void {
    node.generation = nextNodeGeneration();
    this.emit(resumed ? { type: "updated", node } : { type: "joined", node });
  }

  /** Replaces a node's model list (ids plus aliases). */
  setModels(node: NodeRecord, ids: readonly string[], aliases: readonly string[]): void {
    for (const m of node.models) this.byModel.get(m)?.delete(node);
    node.modelIds = [...ids];
    node.models = new Set([...ids, ...aliases]);
    for (const m of node.models) {
      let set = this.byModel.get(m);
      if (!set) {
        set = new Set();
        this.byModel.set(m, set);
      }
      set.add(node);
      this.everServed.add(m);
    }
  }

  /** Moves a node to a new lifecycle state and tells listeners. */
  setState(node: NodeRecord, state: NodeState): void {
    const from = node.state;
    if (from === state) return;
    node.state = state;
    node.offlineSinceMs = state === "offline" ? this.clock() : undefined;
    this.emit({ type: "state", node, from });
  }

  /** Tells listeners a node's figures changed. */
  touch(node: NodeRecord): void {
    this.emit({ type: "updated", node });
  }

  /** Forgets a node for good. */
  remove(id: string): void {
    const node = this.nodes.get(id);
    if (!node) return;
    for (const m of node.models) this.byModel.get(m)?.delete(node);
    this.nodes.delete(id);
    this.ordinals.release(node.ordinal);
    this.emit({ type: "removed", node });
  }

  private sweep(): void {
    const now = this.clock();
    for (const node of this.nodes.values()) {
      if (
        node.state === "offline" &&
        node.offlineSinceMs !== undefined &&
        now - node.offlineSinceMs >= this.opts.offlineGraceMs
      ) {
        this.remove(node.id);
      }
    }
  }

  /** Stops the background sweep. */
  close(): void {
    clearInterval(this.sweepTimer);
  }
}

const EMPTY: ReadonlySet<NodeRecord> = new Set();
