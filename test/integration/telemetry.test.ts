import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { spawnLlmlb, stopProcess } from "../../src/fleet/launcher.js";
import type { NodeDetailJson, NodeJson } from "../../src/http/admin/node-json.js";
import { type Cluster, startCluster } from "../helpers/cluster.js";
import { type FixtureEngine, startFixtureEngine } from "../helpers/fixture-engine.js";

// Real processes: a control plane (in this process), an `llmlb agent` child beside a stand-in vLLM
// serving the real fixture /metrics, and the stand-in nvidia-smi replaying the real H100 captures.
const FAKE_SMI = fileURLToPath(new URL("../helpers/fake-nvidia-smi.mjs", import.meta.url));
const MODEL = "Qwen/Qwen2.5-Coder-1.5B-Instruct"; // first id of engines/vllm/v1-models-lora-aibrix.json
// From gpu/nvidia-h100/nvsmi-query-nounits-light.csv.
const H100 = {
  uuid: "GPU-a637c4b9-4baa-c4fa-9226-99fc4499a9e7",
  name: "NVIDIA H100 80GB HBM3",
  vramTotalMib: 81559,
  vramUsedMib: 69893,
  computeCapability: "9.0",
  driverVersion: "580.159.04",
  utilization: 5,
};
// From engines/vllm/metrics-v1-nvcr-25.09-qwen3-4b.prom (see the unit test of vllmSignals).
const VLLM = { running: 0, waiting: 0, kv: 0.0011764705882353343, prefix: 80 / 246 };

// A canned streamed answer so a dispatched job can finish against the stand-in engine.
const SSE = [
  {
    id: "c1",
    object: "chat.completion.chunk",
    created: 1,
    model: MODEL,
    choices: [{ index: 0, delta: { role: "assistant", content: "hi" }, finish_reason: null }],
  },
  {
    id: "c1",
    object: "chat.completion.chunk",
    created: 1,
    model: MODEL,
    choices: [{ index: 0, delta: {}, finish_reason: "stop" }],
  },
  {
    id: "c1",
    object: "chat.completion.chunk",
    created: 1,
    model: MODEL,
    choices: [],
    usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
  },
]
  .map((c) => `data: ${JSON.stringify(c)}\n\n`)
  .join("")
  .concat("data: [DONE]\n\n");
const ENGINE_ROUTES = {
  "/v1/chat/completions": { body: SSE, contentType: "text/event-stream" },
  "/version": { body: '{"version":"0.10.2"}', contentType: "application/json" },
};

interface AgentOpts {
  id: string;
  engineUrl: string;
  nvidiaSmi?: string;
  heartbeatSecs?: number;
  env?: Record<string, string>;
}

// Agent start-up (tsx transform, first nvidia-smi row, first probe) is slow on a busy 2-core box.
const ONLINE_MS = 45_000;
const TEST_MS = 90_000;

const dirs: string[] = [];
const procs: ChildProcess[] = [];

function startAgent(c: Cluster, o: AgentOpts): ChildProcess {
  const args = [
    "agent",
    "--server",
    c.url,
    "--engine",
    "vllm",
    "--engine-url",
    o.engineUrl,
    "--node-id",
    o.id,
    "--gpu",
    "nvidia",
  ];
  args.push(
    "--nvidia-smi",
    o.nvidiaSmi ?? FAKE_SMI,
    "--region",
    "eu-west",
    "--tier",
    "gold",
    "--cost-per-hour",
    "2.5",
  );
  const p = spawnLlmlb(
    args,
    {
      LLMLB_NODE_TOKEN: c.nodeToken,
      LLMLB_HEARTBEAT_SECS: String(o.heartbeatSecs ?? 0.25),
      LLMLB_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn",
      FAKE_NVIDIA_SMI_SCENARIO: "light",
      ...o.env,
    },
    process.env.TEST_LOG_LEVEL ? "inherit" : "ignore",
  );
  procs.push(p);
  return p;
}

async function nodesJson(c: Cluster): Promise<NodeJson[]> {
  const r = await fetch(`${c.url}/v0/nodes`, { headers: { authorization: `Bearer ${c.apiKey}` } });
  expect(r.status).toBe(200);
  return ((await r.json()) as { nodes: NodeJson[] }).nodes;
}

async function nodeJson(c: Cluster, id: string): Promise<NodeDetailJson> {
  const r = await fetch(`${c.url}/v0/nodes/${encodeURIComponent(id)}`, {
    headers: { authorization: `Bearer ${c.apiKey}` },
  });
  expect(r.status).toBe(200);
  return (await r.json()) as NodeDetailJson;
}

/** Polls `GET /v0/nodes/{id}` until `pred` holds; returns that answer. */
async function pollNode(
  c: Cluster,
  id: string,
  pred: (n: NodeDetailJson) => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<NodeDetailJson> {
  const deadline = Date.now() + timeoutMs;
  let last: NodeDetailJson | undefined;
  while (Date.now() < deadline) {
    if (c.cp.nodes.get(id)) {
      last = await nodeJson(c, id);
      if (pred(last)) return last;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
}

async function chat(c: Cluster): Promise<Response> {
  return fetch(`${c.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${c.inferenceKey}`, "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "hello" }], max_tokens: 4 }),
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => stopProcess(p)));
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("agent telemetry end to end (real agent, stand-in nvidia-smi and vLLM)", () => {
  let c: Cluster;
  let engine: FixtureEngine;
  beforeAll(async () => {
    c = await startCluster({ nodes: [], heartbeatSecs: 0.25 });
    engine = await startFixtureEngine({ kind: "vllm", routes: ENGINE_ROUTES });
  });
  afterAll(async () => {
    await engine?.close();
    await c?.stop();
  });

  it("shows the H100 facts, the scenario's live figures and the engine's signals within two heartbeats", {
    timeout: TEST_MS,
  }, async () => {
    startAgent(c, { id: "h100-a", engineUrl: engine.url });
    await c.waitOnline(["h100-a"], ONLINE_MS);
    const rec = c.cp.nodes.get("h100-a");
    // Two heartbeats after registration: both must already carry the figures.
    await c.waitFor(() => (rec?.history.length ?? 0) >= 2, 10_000, "two heartbeats");
    const d = await nodeJson(c, "h100-a");
    for (const p of d.history.slice(0, 2)) {
      expect(p.gpu_usage).toBe(H100.utilization);
      expect(p.kv_cache_usage).toBe(VLLM.kv);
      expect(p.running_requests).toBe(VLLM.running);
      expect(p.waiting_requests).toBe(VLLM.waiting);
    }

    const n = (await nodesJson(c)).find((x) => x.id === "h100-a");
    expect(n).toBeDefined();
    if (!n) return;
    expect(n.state).toBe("online");
    expect(n.models).toContain(MODEL);
    expect(n.gpu_usage).toBe(H100.utilization);
    expect(n.vram_usage).toBe(Math.round((H100.vramUsedMib / H100.vramTotalMib) * 1000) / 10);
    expect(n.kv_cache_usage).toBe(VLLM.kv);
    expect(n.engine).toMatchObject({
      kind: "vllm",
      version: "0.10.2",
      healthy: true,
      running_requests: VLLM.running,
      waiting_requests: VLLM.waiting,
    });
    expect(n.engine.prefix_cache_hit_rate).toBeCloseTo(VLLM.prefix, 12);
    expect(n.gpus).toEqual([
      {
        index: 0,
        uuid: H100.uuid,
        name: H100.name,
        vram_total_mib: H100.vramTotalMib,
        vram_used_mib: H100.vramUsedMib,
        utilization_percent: H100.utilization,
        temperature_celsius: 40,
        power_watts: 141.73,
        compute_capability: H100.computeCapability,
        driver_version: H100.driverVersion,
      },
    ]);
    expect(n.gpu_source).toBe("nvidia-smi");
    expect(n.labels).toEqual({ cost_per_hour_usd: 2.5, region: "eu-west", tier: "gold" });
    expect(n.agent_version).toMatch(/^\d+\.\d+\.\d+/);
    expect(n.hostname).not.toBeNull();
    expect(n.host_memory_percent).not.toBeNull();
    // The history endpoint keeps at most 10 points (seed 000).
    await c.waitFor(
      () => (rec?.history.length ?? 0) >= 10 && (rec?.lastSeenMs ?? 0) > 0,
      15_000,
      "ten heartbeats",
    );
    await new Promise((r) => setTimeout(r, 600));
    expect((await nodeJson(c, "h100-a")).history.length).toBe(10);
  });

  it("an engine that goes unhealthy takes no new jobs, and takes them again once it recovers", {
    timeout: TEST_MS,
  }, async () => {
    startAgent(c, { id: "h100-b", engineUrl: engine.url });
    await c.waitOnline(["h100-b"], ONLINE_MS);
    await pollNode(c, "h100-b", (n) => n.engine.healthy === true, "engine healthy");
    const ok = await chat(c);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("x-llmlb-node")).toBe("h100-b");

    engine.setHealthy(false);
    const sick = await pollNode(c, "h100-b", (n) => n.engine.healthy === false, "engine unhealthy");
    expect(sick.state).toBe("online"); // the stream is fine; only the engine is not
    expect(c.cp.nodes.get("h100-b")?.schedulable).toBe(false);
    const chatsBefore = engine.requests.filter((p) => p === "/v1/chat/completions").length;
    const refused = await chat(c);
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).not.toBeNull();
    expect(engine.requests.filter((p) => p === "/v1/chat/completions").length).toBe(chatsBefore);

    engine.setHealthy(true);
    await pollNode(c, "h100-b", (n) => n.engine.healthy === true, "engine healthy again");
    expect(c.cp.nodes.get("h100-b")?.schedulable).toBe(true);
    const again = await chat(c);
    expect(again.status).toBe(200);
    expect(again.headers.get("x-llmlb-node")).toBe("h100-b");
  });

  it("an engine process that dies and comes back on the same port", { timeout: TEST_MS }, async () => {
    const own = await startFixtureEngine({ kind: "vllm", routes: ENGINE_ROUTES });
    try {
      startAgent(c, { id: "h100-c", engineUrl: own.url });
      await c.waitOnline(["h100-c"], ONLINE_MS);
      await pollNode(c, "h100-c", (n) => n.engine.healthy === true, "engine healthy");
      await own.close();
      const dead = await pollNode(c, "h100-c", (n) => n.engine.healthy === false, "engine down");
      expect(dead.state).toBe("online");
      // Load figures from a dead engine are unknown, not zero.
      expect(dead.kv_cache_usage).toBeNull();
      expect(dead.engine.running_requests).toBeNull();
      expect(c.cp.nodes.get("h100-c")?.schedulable).toBe(false);
      const back = await startFixtureEngine({ kind: "vllm", routes: ENGINE_ROUTES, port: own.port });
      try {
        const up = await pollNode(c, "h100-c", (n) => n.engine.healthy === true, "engine back");
        expect(up.kv_cache_usage).toBe(VLLM.kv);
        expect(c.cp.nodes.get("h100-c")?.schedulable).toBe(true);
      } finally {
        await back.close();
      }
    } finally {
      await own.close().catch(() => {});
    }
  });

  it("a hung nvidia-smi is bounded: GPU figures go missing (not zero), the node keeps serving, no tool process is left", {
    timeout: TEST_MS,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "llmlb-telemetry-"));
    dirs.push(dir);
    const log = join(dir, "smi.log");
    const agent = startAgent(c, {
      id: "h100-hang",
      engineUrl: engine.url,
      env: { FAKE_NVIDIA_SMI_MODE: "hang", FAKE_NVIDIA_SMI_FAULT_AFTER: "3", FAKE_NVIDIA_SMI_LOG: log },
    });
    await c.waitOnline(["h100-hang"], ONLINE_MS);
    // Figures first (the first 3 rows), then the silence: before any heartbeat they are null anyway.
    await pollNode(c, "h100-hang", (n) => n.gpu_usage === H100.utilization, "GPU figures before the hang");
    const hung = await pollNode(
      c,
      "h100-hang",
      (n) => n.gpu_usage === null,
      "GPU figures dropped while hung",
    );
    expect(hung.state).toBe("online");
    expect(hung.vram_usage).toBeNull();
    expect(hung.gpus[0]).toMatchObject({
      name: H100.name,
      uuid: H100.uuid,
      utilization_percent: null,
      vram_used_mib: null,
      power_watts: null,
    });
    expect(hung.kv_cache_usage).toBe(VLLM.kv); // the engine side is untouched
    const r = await chat(c);
    expect(r.status).toBe(200);
    // The collector killed the hung tool and started another (more than one pid in the log).
    await c.waitFor(() => readPids(log).length >= 2, 15_000, "nvidia-smi restarted after the hang");
    await stopProcess(agent);
    const pids = readPids(log);
    await c.waitFor(() => pids.every((p) => !isAlive(p)), 5_000, "no nvidia-smi left running");
  });

  it("nvidia-smi printing garbage: lines are ignored, the figures stay right", {
    timeout: TEST_MS,
  }, async () => {
    startAgent(c, { id: "h100-garbage", engineUrl: engine.url, env: { FAKE_NVIDIA_SMI_MODE: "garbage" } });
    await c.waitOnline(["h100-garbage"], ONLINE_MS);
    await c.waitFor(
      () => (c.cp.nodes.get("h100-garbage")?.history.length ?? 0) >= 3,
      10_000,
      "three heartbeats",
    );
    const n = await nodeJson(c, "h100-garbage");
    expect(n.gpu_usage).toBe(H100.utilization);
    expect(n.gpus[0]?.vram_used_mib).toBe(H100.vramUsedMib);
    for (const p of n.history) expect(p.gpu_usage).toBe(H100.utilization);
    expect((await chat(c)).status).toBe(200);
  });

  it("no GPU tool: registration says source none with the reason, and no GPU figures", {
    timeout: TEST_MS,
  }, async () => {
    startAgent(c, { id: "no-gpu", engineUrl: engine.url, nvidiaSmi: "/nonexistent/bin/nvidia-smi" });
    await c.waitOnline(["no-gpu"], ONLINE_MS);
    await c.waitFor(() => (c.cp.nodes.get("no-gpu")?.history.length ?? 0) >= 2, 10_000, "two heartbeats");
    const n = await nodeJson(c, "no-gpu");
    expect(n.gpu_source).toBe("none");
    expect(n.gpu_note).toBe("nvidia-smi not found at /nonexistent/bin/nvidia-smi");
    expect(n.gpus).toEqual([]);
    expect(n.gpu_usage).toBeNull();
    expect(n.vram_usage).toBeNull();
    expect(n.kv_cache_usage).toBe(VLLM.kv);
    expect(n.engine.healthy).toBe(true);
  });
});

function readPids(file: string): number[] {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { pid: number }).pid);
}

describe("freshness bound (server --stale-secs)", () => {
  // The server's heartbeat interval (1 s) sets the offline watchdog (3 missed = 3 s); the agent
  // beats every 0.25 s, so a signal older than staleSecs = 1 s only happens when the agent stalls.
  let c: Cluster;
  let engine: FixtureEngine;
  beforeAll(async () => {
    c = await startCluster({ nodes: [], heartbeatSecs: 1, flags: { staleSecs: 1 } });
    engine = await startFixtureEngine({ kind: "vllm", routes: ENGINE_ROUTES });
  });
  afterAll(async () => {
    await engine?.close();
    await c?.stop();
  });

  it("a signal older than staleSecs reads as missing while the node is still online", {
    timeout: TEST_MS,
  }, async () => {
    const agent = startAgent(c, { id: "stale", engineUrl: engine.url, heartbeatSecs: 0.25 });
    await c.waitOnline(["stale"], ONLINE_MS);
    await pollNode(
      c,
      "stale",
      (n) => n.gpu_usage === H100.utilization && n.kv_cache_usage === VLLM.kv,
      "fresh figures",
    );
    const pid = agent.pid;
    expect(pid).toBeDefined();
    if (pid === undefined) return;
    process.kill(pid, "SIGSTOP");
    try {
      await new Promise((r) => setTimeout(r, 1_700));
      const rec = c.cp.nodes.get("stale");
      expect(rec?.state).toBe("online");
      expect(rec?.gpuUsagePercent).toBeUndefined();
      expect(rec?.vramUsagePercent).toBeUndefined();
      expect(rec?.engine).toBeUndefined();
      const n = (await nodesJson(c)).find((x) => x.id === "stale");
      expect(n).toMatchObject({ state: "online", gpu_usage: null, vram_usage: null, kv_cache_usage: null });
      expect(n?.engine.healthy).toBeNull();
      expect(n?.gpus[0]).toMatchObject({ name: H100.name, utilization_percent: null, vram_used_mib: null });
    } finally {
      process.kill(pid, "SIGCONT");
    }
    await pollNode(
      c,
      "stale",
      (n) => n.gpu_usage === H100.utilization && n.kv_cache_usage === VLLM.kv,
      "figures fresh again",
    );
  });
});
