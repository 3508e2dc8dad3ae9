import { nodeToJson } from "../http/admin/node-json.js";
import type { StrategyBook } from "../jobs/strategy-book.js";
import type { Metrics } from "../metrics/metrics.js";
import type { NodeRecord } from "../nodes/node-record.js";
import type { NodeEvent, NodeStore } from "../nodes/node-store.js";
import type { QueueSnapshot } from "../queue/index.js";
import { FleetFigures, QUANTILE_WINDOW_S } from "./fleet-figures.js";
import { SSE_KEEPALIVE, sseFrame } from "./sse.js";

/** One connected dashboard: where frames go. */
export interface EventClient {
  /** Writes a frame; false when the socket's buffer is full (Node's write() contract). */
  write(frame: string): boolean;
  /** Bytes written but not yet sent to the socket. */
  buffered(): number;
  /** Ends the stream (the client reconnects and resyncs from a fresh snapshot). */
  end(): void;
}

/** What the hub reads from the control plane. */
export interface EventHubDeps {
  nodes: NodeStore;
  metrics: Metrics;
  strategies: Pick<StrategyBook, "current" | "names">;
  queueSnapshot: () => QueueSnapshot;
  /** A user id's name, for the queue-per-user table. */
  username?: (userId: string) => string | undefined;
  /** Coalescing period of node updates: a node is sent at most once per period (default 400 ms). */
  nodeFlushMs?: number;
  /** Period of the fleet figures (default 1000 ms). */
  fleetMs?: number;
  /** A client this far behind is dropped rather than buffered without bound (default 4 MiB). */
  maxBufferedBytes?: number;
}

const KEEPALIVE_MS = 15_000;

/**
 * Fans node and fleet updates out to every open `/v0/events` stream. Each frame is serialized once
 * for all clients; node events are coalesced per node; the hub listens to the node store and runs
 * its timers only while at least one client is connected, so an idle control plane pays nothing.
 */
export class EventHub {
  private readonly clients = new Set<EventClient>();
  private readonly dirty = new Set<string>();
  private readonly removed = new Set<string>();
  // In-flight and total counts change on dispatch, which emits no node event; a per-flush
  // comparison against these catches them (cheap: a few field reads per node).
  private readonly counters = new Map<string, string>();
  private readonly figures: FleetFigures;
  private unsubscribe: (() => void) | undefined;
  private timers: NodeJS.Timeout[] = [];
  private lastFleetFrame: string | undefined;
  private fleetBusy = false;

  constructor(private readonly d: EventHubDeps) {
    this.figures = new FleetFigures(d.metrics);
  }

  /** Clients connected now (tests use it to prove streams are released). */
  get clientCount(): number {
    return this.clients.size;
  }

  /** Adds a client: sends the snapshot at once; returns the (idempotent) removal. */
  add(client: EventClient): () => void {
    if (this.clients.size === 0) this.start();
    this.clients.add(client);
    client.write(sseFrame("snapshot", this.snapshot()));
    if (this.lastFleetFrame) client.write(this.lastFleetFrame);
    return () => this.remove(client);
  }

  /** Ends every stream (control plane shutting down). */
  close(): void {
    for (const c of [...this.clients]) {
      this.remove(c);
      c.end();
    }
  }

  private remove(client: EventClient): void {
    if (!this.clients.delete(client)) return;
    if (this.clients.size === 0) this.stop();
  }

  private start(): void {
    this.unsubscribe = this.d.nodes.subscribe((e) => this.onNodeEvent(e));
    for (const n of this.d.nodes.all()) this.counters.set(n.id, countersOf(n));
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.d.nodeFlushMs ?? 400, () => this.flushNodes());
    every(this.d.fleetMs ?? 1000, () => void this.tickFleet());
    every(KEEPALIVE_MS, () => this.broadcast(SSE_KEEPALIVE));
    void this.tickFleet();
  }

  private stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.dirty.clear();
    this.removed.clear();
    this.counters.clear();
    this.figures.reset();
    this.lastFleetFrame = undefined;
  }

  private onNodeEvent(e: NodeEvent): void {
    if (e.type === "removed") {
      this.dirty.delete(e.node.id);
      this.counters.delete(e.node.id);
      this.removed.add(e.node.id);
    } else {
      this.removed.delete(e.node.id);
      this.dirty.add(e.node.id);
    }
  }

  private snapshot() {
    const nodes = [...this.d.nodes.all()].sort((a, b) => a.id.localeCompare(b.id)).map(nodeToJson);
    return {
      at: new Date().toISOString(),
      nodes,
      strategy: this.d.strategies.current,
      strategies: this.d.strategies.names,
      ttft_window_s: QUANTILE_WINDOW_S,
    };
  }

  private flushNodes(): void {
    for (const n of this.d.nodes.all()) {
      const c = countersOf(n);
      if (this.counters.get(n.id) !== c) {
        this.counters.set(n.id, c);
        this.dirty.add(n.id);
      }
    }
    if (this.dirty.size === 0 && this.removed.size === 0) return;
    const nodes = [];
    for (const id of this.dirty) {
      const n = this.d.nodes.get(id);
      if (n) nodes.push(nodeToJson(n));
    }
    const frame = sseFrame("nodes", { nodes, removed: [...this.removed] });
    this.dirty.clear();
    this.removed.clear();
    this.broadcast(frame);
  }

  private async tickFleet(): Promise<void> {
    // prom-client's get() is async; a slow read must not stack up ticks behind it.
    if (this.fleetBusy) return;
    this.fleetBusy = true;
    try {
      const figures = await this.figures.next();
      if (this.clients.size === 0) return;
      const q = this.d.queueSnapshot();
      const states: Record<string, number> = {};
      for (const n of this.d.nodes.all()) states[n.state] = (states[n.state] ?? 0) + 1;
      this.lastFleetFrame = sseFrame("fleet", {
        at: new Date().toISOString(),
        strategy: this.d.strategies.current,
        ...figures,
        nodes_by_state: states,
        queue: {
          total: q.total,
          oldest_wait_ms: Math.round(q.oldestWaitMs),
          users: q.users.map((u) => ({
            user_id: u.userId,
            username: this.d.username?.(u.userId) ?? null,
            depth: u.depth,
            oldest_wait_ms: Math.round(u.oldestWaitMs),
          })),
        },
      });
      this.broadcast(this.lastFleetFrame);
    } finally {
      this.fleetBusy = false;
    }
  }

  private broadcast(frame: string): void {
    const limit = this.d.maxBufferedBytes ?? 4 * 1024 * 1024;
    for (const c of [...this.clients]) {
      if (c.buffered() > limit) {
        this.remove(c);
        c.end();
        continue;
      }
      c.write(frame);
    }
  }
}

function countersOf(n: NodeRecord): string {
  return `${n.state}|${n.inFlight}|${n.totalRequests}`;
}
