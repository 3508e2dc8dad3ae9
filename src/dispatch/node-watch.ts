import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { NodeEventType, type WatchNodesResponseSchema } from "../gen/llmlb/v1/dispatch_pb.js";
import type { NodeRecord } from "../nodes/node-record.js";
import type { NodeEvent, NodeStore } from "../nodes/node-store.js";
import { AsyncQueue } from "./async-queue.js";
import { type NodeView, nodeView } from "./node-view.js";
import type { ServingState } from "./serving-state.js";

// State changes cannot be merged; a watcher this far behind is dropped rather than buffering forever.
const MAX_PENDING = 10_000;

interface Pending {
  type: NodeEventType;
  node: NodeRecord;
  /** Figures frozen at the event (state changes); updates read the newest figures when sent. */
  view?: NodeView;
  atMs: number;
}

/** What a store event means to a watcher; undefined for events it does not report. */
export function watchEventType(e: NodeEvent): NodeEventType | undefined {
  switch (e.type) {
    case "joined":
      return NodeEventType.JOINED;
    case "updated":
      return NodeEventType.UPDATED;
    case "removed":
      return NodeEventType.REMOVED;
    case "state":
      if (e.node.state === "draining") return NodeEventType.DRAINING;
      if (e.node.state === "offline") return NodeEventType.LEFT;
      // A fresh registration goes connecting → online and is then announced as joined; only a
      // node coming back from offline joins here.
      if (e.node.state === "online" && e.from === "offline") return NodeEventType.JOINED;
      if (e.node.state === "online" && e.from === "draining") return NodeEventType.UPDATED;
      return undefined;
  }
}

/**
 * WatchNodes: a SNAPSHOT of every matching node, then each change as it happens. Updates of a node
 * the client has not read yet are merged, so a slow client costs one pending update per node. The
 * stream ends (and unsubscribes) when the client goes away or the control plane shuts down.
 */
export async function* watchNodes(
  nodes: NodeStore,
  model: string,
  staleMs: number,
  signal: AbortSignal,
  serving: ServingState | undefined,
): AsyncGenerator<MessageInitShape<typeof WatchNodesResponseSchema>> {
  const matches = (n: NodeRecord) => model === "" || n.models.has(model);
  const queue = new AsyncQueue<Pending>();
  const pendingUpdates = new Set<string>();
  const unsubscribe = nodes.subscribe((e) => {
    const type = watchEventType(e);
    if (type === undefined || !matches(e.node)) return;
    const atMs = Date.now();
    if (type === NodeEventType.UPDATED) {
      if (pendingUpdates.has(e.node.id)) return;
      pendingUpdates.add(e.node.id);
      queue.push({ type, node: e.node, atMs });
    } else {
      queue.push({ type, node: e.node, view: nodeView(e.node, staleMs, atMs), atMs });
    }
    if (queue.size > MAX_PENDING) {
      queue.fail(new ConnectError("this watcher fell too far behind; watch again", Code.ResourceExhausted));
    }
  });
  const stop = () => queue.close();
  signal.addEventListener("abort", stop, { once: true });
  const offShutdown = serving?.onShutdown(stop);
  try {
    const now = Date.now();
    const current = [...nodes.all()].filter(matches).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const n of current)
      yield { type: NodeEventType.SNAPSHOT, node: nodeView(n, staleMs, now), atUnixMs: BigInt(now) };
    for await (const p of queue) {
      if (!p.view) pendingUpdates.delete(p.node.id);
      yield { type: p.type, node: p.view ?? nodeView(p.node, staleMs), atUnixMs: BigInt(p.atMs) };
    }
  } finally {
    unsubscribe();
    signal.removeEventListener("abort", stop);
    offShutdown?.();
  }
}
