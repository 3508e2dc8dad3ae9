import type { NodeRecord } from "../../nodes/node-record.js";
import { nodeWeight } from "../../selector/registry.js";

/** One instance in seed 004's `/api/v1/loadbalancer/loads` answer. */
export interface InstanceLoadJson {
  instance_id: string;
  provider: string;
  active_connections: number;
  total_connections: number;
  /** "250ms"; null until the node has completed a job. */
  avg_response_time: string | null;
  last_response_time: string | null;
  weight: number;
  /** ISO time of the last dispatch; null before the first. */
  last_used: string | null;
}

/** Every instance is a node of this control plane: seed 004's provider field names the source. */
const PROVIDER = "llmlb";

function duration(ms: number | undefined): string | null {
  return ms === undefined || !Number.isFinite(ms) ? null : `${Math.round(ms)}ms`;
}

/** Serializes a node in seed 004's load shape. */
export function instanceLoadJson(n: NodeRecord): InstanceLoadJson {
  return {
    instance_id: n.id,
    provider: PROVIDER,
    active_connections: n.inFlight,
    total_connections: n.totalRequests,
    avg_response_time: duration(n.avgResponseMs),
    last_response_time: duration(n.lastResponseMs),
    weight: Math.round(nodeWeight(n) * 100) / 100,
    last_used: n.lastDispatchedMs === undefined ? null : new Date(n.lastDispatchedMs).toISOString(),
  };
}
