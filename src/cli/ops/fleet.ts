import type { NodeJson } from "../../http/admin/node-json.js";
import type { InstanceLoadJson } from "../../http/loadbalancer-compat/load-json.js";
import { type OpsConnection, request } from "./client.js";
import { ago, percent, table } from "./table.js";

/** Output of a command: JSON when asked, else a human table. */
export type Render = (json: unknown, human: () => string) => string;

/** `llmlb nodes`: the fleet as `GET /v0/nodes` reports it. */
export async function nodesCommand(conn: OpsConnection, render: Render): Promise<string> {
  const body = await request<{ nodes: NodeJson[] }>(conn, "GET", "/v0/nodes");
  return render(body, () => {
    if (body.nodes.length === 0) return "No nodes.\n";
    return table(
      [
        "ID",
        "STATE",
        "GPU%",
        "VRAM%",
        "KV%",
        "ACTIVE",
        "SLOTS",
        "TOTAL",
        "AVG RT",
        "GPUS",
        "MODELS",
        "LAST SEEN",
      ],
      body.nodes.map((n) => [
        n.id,
        n.state,
        percent(n.gpu_usage),
        percent(n.vram_usage),
        n.kv_cache_usage === null ? null : percent(n.kv_cache_usage * 100),
        n.active_requests,
        n.max_concurrency,
        n.total_requests,
        n.avg_response_time_ms === null ? null : `${n.avg_response_time_ms}ms`,
        gpuSummary(n),
        n.models.join(","),
        ago(n.last_seen),
      ]),
    );
  });
}

/** "2x NVIDIA H100" style summary of a node's GPUs. */
function gpuSummary(n: NodeJson): string {
  const counts = new Map<string, number>();
  for (const g of n.gpus) counts.set(g.name ?? "unknown", (counts.get(g.name ?? "unknown") ?? 0) + 1);
  return [...counts].map(([name, c]) => (c > 1 ? `${c}x ${name}` : name)).join(", ");
}

const LOAD_HEADERS = ["INSTANCE", "PROVIDER", "ACTIVE", "TOTAL", "AVG RT", "WEIGHT"];
const loadRow = (l: InstanceLoadJson) => [
  l.instance_id,
  l.provider,
  l.active_connections,
  l.total_connections,
  l.avg_response_time,
  l.weight.toFixed(2),
];

/** `llmlb load [NODE]`: seed 004's load view (`/api/v1/loadbalancer/loads` or `/load`). */
export async function loadCommand(
  conn: OpsConnection,
  node: string | undefined,
  render: Render,
): Promise<string> {
  if (node !== undefined) {
    const one = await request<InstanceLoadJson>(
      conn,
      "GET",
      `/api/v1/loadbalancer/load?instance_id=${encodeURIComponent(node)}`,
    );
    return render(one, () => table([...LOAD_HEADERS, "LAST USED"], [[...loadRow(one), one.last_used]]));
  }
  const body = await request<{ strategy: string; count: number; loads: Record<string, InstanceLoadJson> }>(
    conn,
    "GET",
    "/api/v1/loadbalancer/loads",
  );
  return render(
    body,
    () =>
      `Load Balancing Strategy: ${body.strategy}\nTracked Instances: ${body.count}\n\n${table(
        LOAD_HEADERS,
        Object.values(body.loads).map(loadRow),
      )}`,
  );
}

/** `llmlb lb-strategy [NAME]`: shows or sets the default strategy. */
export async function strategyCommand(
  conn: OpsConnection,
  name: string | undefined,
  render: Render,
): Promise<string> {
  if (name === undefined) {
    const body = await request<{ strategy: string }>(conn, "GET", "/api/v1/loadbalancer/strategy");
    return render(body, () => `Load balancing strategy: ${body.strategy}\n`);
  }
  const body = await request<{ strategy: string; message: string }>(
    conn,
    "PUT",
    "/api/v1/loadbalancer/strategy",
    {
      strategy: name,
    },
  );
  return render(body, () => `${body.message}: ${body.strategy}\n`);
}
