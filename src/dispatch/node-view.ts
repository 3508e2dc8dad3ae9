import type { MessageInitShape } from "@bufbuild/protobuf";
import { type NodeSchema, NodeState } from "../gen/llmlb/v1/dispatch_pb.js";
import { type NodeRecord, opt } from "../nodes/node-record.js";
import type { NodeState as NodeStateName } from "../nodes/types.js";

/** The wire form of a node, as ListNodes, GetNode and WatchNodes send it. */
export type NodeView = MessageInitShape<typeof NodeSchema>;

const STATES: Record<NodeStateName, NodeState> = {
  connecting: NodeState.CONNECTING,
  online: NodeState.ONLINE,
  draining: NodeState.DRAINING,
  offline: NodeState.OFFLINE,
};

/** The lifecycle state's wire value. */
export function nodeStateOf(state: NodeStateName): NodeState {
  return STATES[state];
}

/**
 * A node's current figures. Per-GPU live readings older than `staleMs` are left unset, as the
 * aggregate getters of NodeRecord do, so a silent node never shows its last load as current.
 */
export function nodeView(n: NodeRecord, staleMs: number, now = Date.now()): NodeView {
  const gpuFresh = now - n.gpuAtMs <= staleMs;
  const live = new Map(gpuFresh ? n.gpuLive.map((g) => [g.index, g]) : []);
  const e = n.engine;
  return {
    id: n.id,
    state: STATES[n.state],
    models: [...n.modelIds],
    hostname: n.identity.hostname,
    engineKind: n.identity.engineKind,
    engineVersion: n.identity.engineVersion,
    agentVersion: n.identity.agentVersion,
    maxConcurrency: n.maxConcurrency,
    activeRequests: n.inFlight,
    totalRequests: BigInt(n.totalRequests),
    completedRequests: BigInt(n.completed),
    failedRequests: BigInt(n.failed),
    ...opt("gpuUsagePercent", n.gpuUsagePercent),
    ...opt("vramUsagePercent", n.vramUsagePercent),
    ...opt("avgResponseMs", n.avgResponseMs),
    ...opt("ewmaResponseMs", n.ewmaResponseMs),
    ...(e
      ? {
          engine: {
            healthy: e.healthy,
            ...opt("runningRequests", e.runningRequests),
            ...opt("waitingRequests", e.waitingRequests),
            ...opt("kvCacheUsage", e.kvCacheUsage),
            ...opt("prefixCacheHitRate", e.prefixCacheHitRate),
          },
        }
      : {}),
    gpus: n.gpus.map((g) => {
      const l = live.get(g.index);
      return {
        index: g.index,
        uuid: g.uuid,
        name: g.name,
        vramTotalMib: BigInt(Math.round(g.vramTotalMib)),
        computeCapability: g.computeCapability,
        driverVersion: g.driverVersion,
        ...opt("utilizationPercent", l?.utilizationPercent),
        ...opt("vramUsedMib", l?.vramUsedMib === undefined ? undefined : BigInt(Math.round(l.vramUsedMib))),
        ...opt("temperatureCelsius", l?.temperatureCelsius),
        ...opt("powerWatts", l?.powerWatts),
      };
    }),
    labels: {
      region: n.labels.region,
      tier: n.labels.tier,
      ...opt("costPerHourUsd", n.labels.costPerHourUsd),
    },
    ...opt("hostCpuPercent", n.hostCpuPercent),
    ...opt("hostMemoryPercent", n.hostMemoryPercent),
    registeredAtUnixMs: BigInt(Math.round(n.registeredAtMs)),
    lastSeenUnixMs: BigInt(Math.round(n.lastSeenMs)),
    gpuSource: n.identity.gpuSource,
    gpuNote: n.identity.gpuNote,
    recentRouteReasons: [...n.recentReasons],
  };
}
