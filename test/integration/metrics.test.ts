import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stopProcess } from "../../src/fleet/launcher.js";
import { type Cluster, startCluster } from "../helpers/cluster.js";

const DEPLOY = fileURLToPath(new URL("../../deploy/", import.meta.url));
let c: Cluster;

beforeAll(async () => {
  c = await startCluster({
    nodes: [
      { id: "m-4090", profile: "rtx4090", model: "llama-3.1-8b", instant: true, seed: 1 },
      { id: "m-3080", profile: "rtx3080", model: "llama-3.2-1b", instant: true, seed: 2 },
    ],
    heartbeatSecs: 1,
    // A short grace so that "gone for good" happens within the test.
    flags: { offlineGraceSecs: 0.3 },
  });
  for (const model of ["llama-3.1-8b", "llama-3.2-1b"]) {
    await c.openai.chat.completions.create({
      model,
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 4,
    });
  }
  const s = await c.openai.chat.completions.create({
    model: "llama-3.1-8b",
    messages: [{ role: "user", content: "stream" }],
    max_tokens: 4,
    stream: true,
  });
  for await (const _ of s);
  await c.waitFor(() => c.cp.nodes.get("m-4090")?.gpuUsagePercent !== undefined, 10_000, "gpu figures");
}, 60_000);

afterAll(async () => {
  await c?.stop();
});

const scrape = async (headers: Record<string, string> = {}) => {
  const r = await fetch(`${c.url}/metrics`, { headers });
  return { status: r.status, type: r.headers.get("content-type"), text: await r.text() };
};

function promtool(args: string[], input?: string) {
  const r = spawnSync("promtool", args, { input, encoding: "utf8", cwd: DEPLOY });
  if (r.error) throw new Error(`promtool is required (Debian package 'prometheus'): ${r.error.message}`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Metric names in a Prometheus text exposition: sampled ones, and declared ones (a labelled counter has no sample until first use). */
function families(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{|\s)/.exec(line);
    if (sample?.[1]) names.add(sample[1]);
    const declared = /^# TYPE (\S+) (\w+)/.exec(line);
    if (declared?.[1]) {
      names.add(declared[1]);
      if (declared[2] === "histogram")
        for (const s of ["_bucket", "_sum", "_count"]) names.add(declared[1] + s);
    }
  }
  return names;
}

describe("Prometheus metrics", () => {
  it("serves the seed's metric names, and `promtool check metrics` finds nothing to fix", async () => {
    const { status, type, text } = await scrape();
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/plain/);
    expect(text).toMatch(/^llmlb_node_gpu_usage\{node_id="m-4090"\} \d/m);
    expect(text).toMatch(/^llmlb_node_vram_usage\{node_id="m-4090"\} \d/m);
    expect(text).toMatch(/^llmlb_node_active_requests\{node_id="m-3080"\} 0/m);
    expect(text).toMatch(/^llmlb_node_selections_total\{node_id="m-4090",reason="[a-z_]+"\} [1-9]/m);
    expect(text).toMatch(/^llmlb_node_selections_total\{node_id="m-3080",reason="[a-z_]+"\} [1-9]/m);
    for (const name of [
      "llmlb_selection_duration_seconds_bucket",
      "llmlb_requests_total",
      "llmlb_request_duration_seconds_bucket",
      "llmlb_time_to_first_token_seconds_bucket",
      "llmlb_tokens_total",
      "llmlb_queue_depth",
      "llmlb_queue_wait_seconds_bucket",
      "llmlb_node_streams_open",
      "llmlb_node_stream_messages_total",
      "llmlb_node_up",
      "llmlb_nodes_online",
    ]) {
      expect(text, name).toMatch(new RegExp(`^${name}(\\{|\\s)`, "m"));
    }
    const check = promtool(["check", "metrics"], text);
    expect(check.out).toBe("");
    expect(check.status).toBe(0);
  });

  it("ships alert rules and a Grafana dashboard that promtool accepts and that use only real metrics", async () => {
    const rules = promtool(["check", "rules", "prometheus/alerts.yml"]);
    expect(rules.out).toContain("SUCCESS: 6 rules found");
    expect(rules.status).toBe(0);
    const tests = promtool(["test", "rules", "prometheus/alerts.test.yml"]);
    expect(tests.out).toContain("SUCCESS");
    expect(tests.status).toBe(0);
    const config = promtool(["check", "config", "prometheus/prometheus.yml"]);
    expect(config.status).toBe(0);

    const exposed = families((await scrape()).text);
    const alerts = readFileSync(`${DEPLOY}prometheus/alerts.yml`, "utf8");
    const dashboard = JSON.parse(readFileSync(`${DEPLOY}grafana/llmlb-dashboard.json`, "utf8"));
    expect(dashboard.panels.length).toBeGreaterThan(10);
    const exprs: string[] = dashboard.panels.flatMap((p: { targets?: { expr: string }[] }) =>
      (p.targets ?? []).map((t) => t.expr),
    );
    const used = new Set([...`${alerts}\n${exprs.join("\n")}`.matchAll(/\bllmlb_[a-z_]+/g)].map((m) => m[0]));
    expect(used.size).toBeGreaterThan(10);
    for (const name of used) expect(exposed, `${name} is used but not exposed`).toContain(name);
  });

  it("drops every series of a node once it is gone for good", async () => {
    expect((await scrape()).text).toContain('node_id="m-3080"');
    const node = c.fleet.nodes.find((n) => n.spec.id === "m-3080");
    if (!node) throw new Error("no node m-3080");
    await stopProcess(node.agent);
    await c.waitFor(() => c.cp.nodes.get("m-3080") === undefined, 10_000, "node m-3080 forgotten");
    const { text } = await scrape();
    expect(text).not.toContain('node_id="m-3080"');
    expect(text).toContain('llmlb_node_selections_total{node_id="m-4090"');
    expect(promtool(["check", "metrics"], text).status).toBe(0);
  });
});

describe("/metrics behind a key (LLMLB_METRICS_REQUIRE_KEY)", () => {
  it("answers 401 without a key and 200 with any valid key", async () => {
    const locked = await startCluster({ nodes: [], flags: { metricsRequireKey: true } });
    try {
      expect((await fetch(`${locked.url}/metrics`)).status).toBe(401);
      expect(
        (await fetch(`${locked.url}/metrics`, { headers: { authorization: "Bearer sk-wrong" } })).status,
      ).toBe(401);
      const ok = await fetch(`${locked.url}/metrics`, {
        headers: { authorization: `Bearer ${locked.apiKey}` },
      });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain("llmlb_nodes_online 0");
      expect((await fetch(`${locked.url}/healthz`)).status).toBe(200);
    } finally {
      await locked.stop();
    }
  });
});
