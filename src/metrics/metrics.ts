import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { NodeStore } from "../nodes/node-store.js";

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** All Prometheus metrics of the control plane, on a private registry (never the global one). */
export function createMetrics(nodes: NodeStore) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "llmlb_process_" });
  // prom-client exposes these three as gauges named *_total, which `promtool check metrics` rejects
  // (a _total suffix promises a counter); the event-loop and memory metrics stay.
  for (const name of [
    "nodejs_active_handles_total",
    "nodejs_active_requests_total",
    "nodejs_active_resources_total",
  ]) {
    registry.removeSingleMetric(`llmlb_process_${name}`);
  }

  // Node figures are read at scrape time from the store, so they are never stale in between.
  const nodeGauge = (
    name: string,
    help: string,
    read: (n: ReturnType<NodeStore["get"]> & {}) => number | undefined,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ["node_id"],
      registers: [registry],
      collect() {
        this.reset();
        for (const n of nodes.all()) {
          if (n.state === "offline") continue;
          const v = read(n);
          if (v !== undefined && Number.isFinite(v)) this.set({ node_id: n.id }, v);
        }
      },
    });

  const m = {
    registry,
    nodeGpuUsage: nodeGauge(
      "llmlb_node_gpu_usage",
      "GPU utilisation of a node, percent (mean over its GPUs)",
      (n) => n.gpuUsagePercent,
    ),
    nodeVramUsage: nodeGauge(
      "llmlb_node_vram_usage",
      "VRAM use of a node, percent",
      (n) => n.vramUsagePercent,
    ),
    nodeActiveRequests: nodeGauge(
      "llmlb_node_active_requests",
      "Jobs in flight on a node, as the control plane counts them",
      (n) => n.inFlight,
    ),
    nodeKvCacheUsage: nodeGauge(
      "llmlb_node_kv_cache_usage",
      "Engine KV-cache usage of a node, 0..1",
      (n) => n.engine?.kvCacheUsage,
    ),
    nodeWaitingRequests: nodeGauge(
      "llmlb_node_engine_waiting_requests",
      "Requests waiting inside the node's engine",
      (n) => n.engine?.waitingRequests,
    ),
    nodeUp: new Gauge({
      name: "llmlb_node_up",
      help: "1 when the node is online, 0.5 draining, 0 offline (within its grace period)",
      labelNames: ["node_id"],
      registers: [registry],
      collect() {
        this.reset();
        for (const n of nodes.all())
          this.set({ node_id: n.id }, n.state === "online" ? 1 : n.state === "draining" ? 0.5 : 0);
      },
    }),
    nodesOnline: new Gauge({
      name: "llmlb_nodes_online",
      help: "Nodes online",
      registers: [registry],
      collect() {
        let c = 0;
        for (const n of nodes.all()) if (n.state === "online") c++;
        this.set(c);
      },
    }),
    selections: new Counter({
      name: "llmlb_node_selections_total",
      help: "Node selections by node and reason",
      labelNames: ["node_id", "reason"],
      registers: [registry],
    }),
    selectionDuration: new Histogram({
      name: "llmlb_selection_duration_seconds",
      help: "Time to choose a node for a request",
      labelNames: ["strategy"],
      buckets: [0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.01],
      registers: [registry],
    }),
    pluginDuration: new Histogram({
      name: "llmlb_selector_plugin_duration_seconds",
      help: "Time spent in one selector plugin",
      labelNames: ["stage", "plugin"],
      buckets: [0.000001, 0.000005, 0.00001, 0.00005, 0.0001, 0.0005, 0.001],
      registers: [registry],
    }),
    requests: new Counter({
      name: "llmlb_requests_total",
      help: "Finished requests by API, model and status",
      labelNames: ["api", "model", "status"],
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: "llmlb_request_duration_seconds",
      help: "End-to-end request time",
      labelNames: ["api", "model"],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    ttft: new Histogram({
      name: "llmlb_time_to_first_token_seconds",
      help: "Time from request arrival to the first token",
      labelNames: ["model"],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    tokens: new Counter({
      name: "llmlb_tokens_total",
      help: "Tokens processed by kind (prompt, completion)",
      labelNames: ["kind", "model"],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: "llmlb_queue_depth",
      help: "Requests waiting in the fair queue",
      registers: [registry],
    }),
    queueWait: new Histogram({
      name: "llmlb_queue_wait_seconds",
      help: "Time requests waited in the fair queue before dispatch",
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60],
      registers: [registry],
    }),
    retries: new Counter({
      name: "llmlb_job_retries_total",
      help: "Jobs re-dispatched after their node was lost before the first token",
      registers: [registry],
    }),
    cancellations: new Counter({
      name: "llmlb_job_cancellations_total",
      help: "Jobs cancelled, by reason",
      labelNames: ["reason"],
      registers: [registry],
    }),
    streamsOpen: new Gauge({
      name: "llmlb_node_streams_open",
      help: "Node streams open",
      registers: [registry],
    }),
    streamMessages: new Counter({
      name: "llmlb_node_stream_messages_total",
      help: "Messages on node streams by direction and kind",
      labelNames: ["direction", "kind"],
      registers: [registry],
    }),
    streamErrors: new Counter({
      name: "llmlb_node_stream_errors_total",
      help: "Node stream protocol errors by code",
      labelNames: ["code"],
      registers: [registry],
    }),
  };
  return {
    ...m,
    /** Drops a node's selection series once the node is gone for good (its gauges vanish on their own). */
    async forgetNode(nodeId: string): Promise<void> {
      const { values } = await m.selections.get();
      for (const v of values) if (v.labels.node_id === nodeId) m.selections.remove(v.labels);
    },
  };
}

/** The metrics object every component receives. */
export type Metrics = ReturnType<typeof createMetrics>;
