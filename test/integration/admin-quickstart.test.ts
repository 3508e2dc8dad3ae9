import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, startCluster } from "../helpers/cluster.js";

// Debian's Python, which has python3-httpx (the python3 on PATH may be a bare pyenv build).
const PYTHON = "/usr/bin/python3";

/** Runs a program without blocking the event loop: the control plane under test lives in this process. */
function run(
  file: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string; error?: Error }> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { encoding: "utf8", timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({
        code: child.exitCode,
        stdout,
        stderr,
        ...(err && child.exitCode === null ? { error: err } : {}),
      }),
    );
  });
}
let c: Cluster;
const dir = mkdtempSync(join(tmpdir(), "llmlb-quickstart-"));

beforeAll(async () => {
  c = await startCluster({
    nodes: [
      { id: "node-1", profile: "rtx4090", model: "llama-3.2-1b", instant: true, seed: 1 },
      { id: "node-2", profile: "rtx3090", model: "llama-3.2-1b", instant: true, seed: 2 },
    ],
    flags: { adminUser: "admin", adminPassword: "test" },
    heartbeatSecs: 1,
  });
  await c.waitFor(
    () => ["node-1", "node-2"].every((id) => c.cp.nodes.get(id)?.gpuUsagePercent !== undefined),
    10_000,
    "GPU figures",
  );
}, 60_000);

afterAll(async () => {
  await c?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * The seed-001 quickstart's Python section, verbatim apart from the server address and the key
 * (the seed's own model name, llama-3.2-1b, is served by the sims). monitor_nodes loops forever,
 * so time.sleep ends it after one round.
 */
const QUICKSTART = String.raw`
import asyncio
import sys
import time

import httpx

BASE, API_KEY = sys.argv[1], sys.argv[2]


def chat(prompt: str):
    response = httpx.post(
        f"{BASE}/v1/chat/completions",
        headers={"Authorization": f"Bearer {API_KEY}"},
        json={
            "model": "llama-3.2-1b",
            "messages": [{"role": "user", "content": prompt}]
        },
        timeout=60.0
    )
    return response.json()

result = chat("What is load balancing?")
print(result["choices"][0]["message"]["content"])


async def send_request(client, i):
    response = await client.post(
        f"{BASE}/v1/chat/completions",
        headers={"Authorization": f"Bearer {API_KEY}"},
        json={
            "model": "llama-3.2-1b",
            "messages": [{"role": "user", "content": f"Request {i}"}]
        }
    )
    return response.status_code

async def load_test(n_requests=30):
    async with httpx.AsyncClient(timeout=60.0) as client:
        tasks = [send_request(client, i) for i in range(n_requests)]
        results = await asyncio.gather(*tasks)
        print(f"Success: {results.count(200)}/{n_requests}")

asyncio.run(load_test())


def monitor_nodes(jwt_token: str, interval: int = 5):
    while True:
        response = httpx.get(
            f"{BASE}/v0/nodes",
            headers={"Authorization": f"Bearer {jwt_token}"}
        )
        nodes = response.json()["nodes"]

        print("\n--- Node Status ---")
        for node in nodes:
            print(f"{node['id']}: GPU={node['gpu_usage']:.1f}%, "
                  f"VRAM={node['vram_usage']:.1f}%, "
                  f"Active={node['active_requests']}")

        time.sleep(interval)


# The JWT comes from the admin login (the dashboard's admin / test).
login = httpx.post(f"{BASE}/v0/auth/login", json={"username": "admin", "password": "test"})
jwt = login.json()["token"]


class Stop(Exception):
    pass


def stop(_seconds):
    raise Stop()


time.sleep = stop
try:
    monitor_nodes(jwt)
except Stop:
    pass
`;

describe("seed-001 quickstart", () => {
  it("runs the Python httpx examples: chat, a 30-request load test, and node monitoring with a JWT", async () => {
    const script = join(dir, "quickstart.py");
    writeFileSync(script, QUICKSTART);
    const r = await run(PYTHON, [script, c.url, c.apiKey]);
    if (r.error)
      throw new Error(`${PYTHON} is required (Debian python3 + python3-httpx): ${r.error.message}`);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]?.length).toBeGreaterThan(0);
    expect(r.stdout).toContain("Success: 30/30");
    expect(r.stdout).toContain("--- Node Status ---");
    expect(r.stdout).toMatch(/^node-1: GPU=\d+\.\d%, VRAM=\d+\.\d%, Active=\d+$/m);
    expect(r.stdout).toMatch(/^node-2: GPU=\d+\.\d%, VRAM=\d+\.\d%, Active=\d+$/m);
  });

  it("runs the curl examples: /v0/nodes with a JWT and /metrics | grep llmlb_node", async () => {
    const sh = (cmd: string) => run("bash", ["-c", cmd]);
    const token = JSON.parse(
      (
        await sh(
          `curl -s -X POST ${c.url}/v0/auth/login -H "Content-Type: application/json" -d '{"username":"admin","password":"test"}'`,
        )
      ).stdout,
    ).token;
    const nodes = await sh(`curl -s -X GET ${c.url}/v0/nodes -H "Authorization: Bearer ${token}"`);
    expect(JSON.parse(nodes.stdout).nodes.map((n: { id: string }) => n.id)).toEqual(["node-1", "node-2"]);
    const metrics = await sh(`curl -s ${c.url}/metrics | grep llmlb_node`);
    expect(metrics.stdout).toMatch(/^llmlb_node_gpu_usage\{node_id="node-1"\} /m);
    expect(metrics.stdout).toMatch(/^llmlb_node_selections_total\{node_id="node-\d",reason="\w+"\} \d+/m);
  });
});
