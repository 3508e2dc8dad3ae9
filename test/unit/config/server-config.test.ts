import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadAgentConfig } from "../../../src/agent/agent-config.js";
import { loadServerConfig, readTomlFile } from "../../../src/config/server-config.js";
import { ConfigError } from "../../../src/config/spec.js";

const load = (
  flags: Record<string, unknown>,
  env: Record<string, string> = {},
  toml: Record<string, unknown> = {},
) => loadServerConfig({ flags, env, toml });

describe("server config: flags > env > config.toml > defaults, validated once", () => {
  it("uses the seed's defaults", () => {
    const c = load({});
    expect([c.port, c.strategy, c.gpuThreshold, c.vramThreshold, c.activeRequestThreshold]).toEqual([
      8080,
      "metrics",
      80,
      90,
      10,
    ]);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it("honours the seed names and their precedence", () => {
    expect(load({}, { LB_STRATEGY: "round_robin" }).strategy).toBe("round_robin");
    expect(load({}, { LOAD_BALANCER_MODE: "least_connections", LB_STRATEGY: "round_robin" }).strategy).toBe(
      "least_connections",
    );
    expect(load({}, {}, { load_balancer: { mode: "cost_aware" } }).strategy).toBe("cost_aware");
    expect(
      load(
        { strategy: "gpu_aware" },
        { LB_STRATEGY: "round_robin" },
        { load_balancer: { mode: "cost_aware" } },
      ).strategy,
    ).toBe("gpu_aware");
    expect(load({}, { XLLM_HEARTBEAT_SECS: "2.5" }).heartbeatSecs).toBe(2.5);
    expect(load({}, { LLMLB_API_KEYS: " sk-a, ,sk-b " }).apiKeys).toEqual(["sk-a", "sk-b"]);
  });

  it.each([
    [{ port: "80x" }, {}, /port \(from --port\): expected an integer/],
    [{ port: 70000 }, {}, /port .* must be ≤ 65535/],
    [{}, { LLMLB_GPU_THRESHOLD: "101" }, /gpuThreshold \(from LLMLB_GPU_THRESHOLD\): must be ≤ 100/],
    [{}, { LB_STRATEGY: "telepathy" }, /strategy \(from LB_STRATEGY\): must be one of .*round_robin/],
    [{}, { LLMLB_QUEUE_POLICY: "lottery" }, /queuePolicy .* must be one of round_robin, weighted, vtc/],
    [{}, { LLMLB_ACTIVE_REQ_THRESHOLD: "0" }, /activeRequestThreshold .* must be ≥ 1/],
    [{ requestTimeoutSecs: 10, maxRequestTimeoutSecs: 5 }, {}, /requestTimeoutSecs must not exceed/],
  ])("rejects %j %j with a message naming the key", (flags, env, message) => {
    expect(() => load(flags, env)).toThrow(ConfigError);
    expect(() => load(flags, env)).toThrow(message);
  });

  it("reads config.toml, and names the file when it is broken or missing", () => {
    const dir = mkdtempSync(join(tmpdir(), "llmlb-config-"));
    try {
      const good = join(dir, "good.toml");
      writeFileSync(good, '[load_balancer]\nmode = "round_robin"\ngpu_threshold = 70\n');
      const c = load({}, {}, readTomlFile(good));
      expect([c.strategy, c.gpuThreshold]).toEqual(["round_robin", 70]);
      const bad = join(dir, "bad.toml");
      writeFileSync(bad, "[load_balancer\nmode = ");
      expect(() => readTomlFile(bad)).toThrow(/bad\.toml/);
      expect(() => readTomlFile(join(dir, "none.toml"))).toThrow(/not found/);
      const wrongType = join(dir, "wrong.toml");
      writeFileSync(wrongType, '[load_balancer]\ngpu_threshold = "high"\n');
      expect(() => load({}, {}, readTomlFile(wrongType))).toThrow(
        /config\.toml \[load_balancer\.gpu_threshold\]/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("agent config", () => {
  const base = { server: "http://127.0.0.1:8080", token: "nt-x", engineUrl: "http://127.0.0.1:8000" };
  it.each([
    [{ ...base, server: "" }, /server is required/],
    [{ ...base, token: "" }, /token is required/],
    [{ ...base, engineUrl: "not a url" }, /engineUrl: not a URL/],
    [{ ...base, server: "ftp://x" }, /server: must be http/],
    [{ ...base, engine: "kobold" }, /engine .* must be one of vllm, sglang/],
    [{ ...base, maxConcurrency: "-1" }, /maxConcurrency .* must be ≥ 0/],
  ])("rejects %j", (flags, message) => {
    expect(() => loadAgentConfig({ flags, env: {}, toml: {} })).toThrow(message);
  });

  it("derives a stable node id from the host and engine port", () => {
    const c = loadAgentConfig({ flags: base, env: {}, toml: {} });
    expect(c.nodeId).toMatch(/-8000$/);
    expect(loadAgentConfig({ flags: { ...base, nodeId: "gpu-7" }, env: {}, toml: {} }).nodeId).toBe("gpu-7");
  });
});
