import type { HistoryPoint, NodeRecord } from "../../nodes/node-record.js";
import type { GpuFacts, GpuLive } from "../../nodes/types.js";

/** One GPU as the admin API shows it: registration facts merged with the latest fresh reading. */
export interface GpuJson {
  index: number;
  uuid: string | null;
  name: string | null;
  vram_total_mib: number | null;
  vram_used_mib: number | null;
  utilization_percent: number | null;
  temperature_celsius: number | null;
  power_watts: number | null;
  compute_capability: string | null;
  driver_version: string | null;
}

/** A node in `GET /v0/nodes` (the seed-001 quickstart shape plus llmlb's own fields). Unknown is null, never 0. */
export interface NodeJson {
  id: string;
  state: string;
  gpu_usage: number | null;
  vram_usage: number | null;
  active_requests: number;
  total_requests: number;
  avg_response_time_ms: number | null;
  ewma_response_time_ms: number | null;
  last_response_time_ms: number | null;
  last_seen: string;
  registered_at: string;
  last_used: string | null;
  models: string[];
  gpus: GpuJson[];
  kv_cache_usage: number | null;
  engine: {
    kind: string | null;
    version: string | null;
    healthy: boolean | null;
    running_requests: number | null;
    waiting_requests: number | null;
    prefix_cache_hit_rate: number | null;
  };
  labels: { cost_per_hour_usd: number | null; region: string | null; tier: string | null };
  max_concurrency: number;
  hostname: string | null;
  agent_version: string | null;
  gpu_source: string | null;
  gpu_note: string | null;
  host_cpu_percent: number | null;
  host_memory_percent: number | null;
  completed: number;
  failed: number;
}

/** One history point of `GET /v0/nodes/{id}`. */
export interface HistoryJson {
  at: string;
  gpu_usage: number | null;
  vram_usage: number | null;
  kv_cache_usage: number | null;
  running_requests: number | null;
  waiting_requests: number | null;
  active_requests: number;
}

/** A node in `GET /v0/nodes/{id}`: the list shape plus its last heartbeats and routing reasons. */
export interface NodeDetailJson extends NodeJson {
  history: HistoryJson[];
  recent_reasons: string[];
}

/** undefined, NaN and ±Infinity become null: JSON has no "unknown" number. */
function num(v: number | undefined): number | null {
  return v !== undefined && Number.isFinite(v) ? v : null;
}

/** Empty strings are what the wire sends for "not reported". */
function str(v: string | undefined): string | null {
  return v === undefined || v === "" ? null : v;
}

/** Rounds to 0.1 so percentages read cleanly without losing anything an operator would act on. */
function pct(v: number | undefined): number | null {
  const n = num(v);
  return n === null ? null : Math.round(n * 10) / 10;
}

function iso(ms: number | undefined): string | null {
  return ms === undefined || !Number.isFinite(ms) || ms <= 0 ? null : new Date(ms).toISOString();
}

function gpuJson(facts: GpuFacts | undefined, live: GpuLive | undefined, index: number): GpuJson {
  const total = live?.vramTotalMib ?? facts?.vramTotalMib;
  return {
    index,
    uuid: str(facts?.uuid),
    name: str(facts?.name),
    // A registration that could not read VRAM sends 0: that is unknown, not an empty card.
    vram_total_mib: total !== undefined && total > 0 ? total : null,
    vram_used_mib: num(live?.vramUsedMib),
    utilization_percent: num(live?.utilizationPercent),
    temperature_celsius: num(live?.temperatureCelsius),
    power_watts: num(live?.powerWatts),
    compute_capability: str(facts?.computeCapability),
    driver_version: str(facts?.driverVersion),
  };
}

/** GPUs by index: every registered one, plus any that only appear in heartbeats. */
function gpusJson(n: NodeRecord): GpuJson[] {
  const live = new Map(n.gpuFresh.map((g) => [g.index, g]));
  const out = n.gpus.map((f) => gpuJson(f, live.get(f.index), f.index));
  for (const g of live.values())
    if (!n.gpus.some((f) => f.index === g.index)) out.push(gpuJson(undefined, g, g.index));
  return out.sort((a, b) => a.index - b.index);
}

/** Serializes a node for `GET /v0/nodes` (also used by the dashboard and Dispatch). */
export function nodeToJson(n: NodeRecord): NodeJson {
  const e = n.engine;
  return {
    id: n.id,
    state: n.state,
    gpu_usage: pct(n.gpuUsagePercent),
    vram_usage: pct(n.vramUsagePercent),
    active_requests: n.inFlight,
    total_requests: n.totalRequests,
    avg_response_time_ms: num(n.avgResponseMs === undefined ? undefined : Math.round(n.avgResponseMs)),
    ewma_response_time_ms: num(n.ewmaResponseMs === undefined ? undefined : Math.round(n.ewmaResponseMs)),
    last_response_time_ms: num(n.lastResponseMs === undefined ? undefined : Math.round(n.lastResponseMs)),
    last_seen: new Date(n.lastSeenMs).toISOString(),
    registered_at: new Date(n.registeredAtMs).toISOString(),
    last_used: iso(n.lastDispatchedMs),
    models: [...n.modelIds],
    gpus: gpusJson(n),
    kv_cache_usage: num(e?.kvCacheUsage),
    engine: {
      kind: str(n.identity.engineKind),
      version: str(n.identity.engineVersion),
      healthy: e?.healthy ?? null,
      running_requests: num(e?.runningRequests),
      waiting_requests: num(e?.waitingRequests),
      prefix_cache_hit_rate: num(e?.prefixCacheHitRate),
    },
    labels: {
      cost_per_hour_usd: num(n.labels.costPerHourUsd),
      region: str(n.labels.region),
      tier: str(n.labels.tier),
    },
    max_concurrency: n.maxConcurrency,
    hostname: str(n.identity.hostname),
    agent_version: str(n.identity.agentVersion),
    gpu_source: str(n.identity.gpuSource),
    gpu_note: str(n.identity.gpuNote),
    host_cpu_percent: pct(n.hostCpuPercent),
    host_memory_percent: pct(n.hostMemoryPercent),
    completed: n.completed,
    failed: n.failed,
  };
}

function historyJson(p: HistoryPoint): HistoryJson {
  return {
    at: new Date(p.atMs).toISOString(),
    gpu_usage: pct(p.gpuUsagePercent),
    vram_usage: pct(p.vramUsagePercent),
    kv_cache_usage: num(p.kvCacheUsage),
    running_requests: num(p.runningRequests),
    waiting_requests: num(p.waitingRequests),
    active_requests: p.inFlight,
  };
}

/** Serializes a node for `GET /v0/nodes/{id}`. */
export function nodeToDetailJson(n: NodeRecord): NodeDetailJson {
  return { ...nodeToJson(n), history: n.history.map(historyJson), recent_reasons: [...n.recentReasons] };
}
