import { execFile } from "node:child_process";
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LLMLB_BIN } from "../../src/fleet/launcher.js";
import { type Cluster, startCluster } from "../helpers/cluster.js";

let c: Cluster;

beforeAll(async () => {
  c = await startCluster({
    nodes: [
      { id: "c-node", profile: "rtx4090", model: "llama-3.1-8b", instant: true, costPerHour: 0.35, seed: 1 },
    ],
    flags: { adminUser: "admin", adminPassword: "test" },
    heartbeatSecs: 1,
  });
  await c.openai.chat.completions.create({
    model: "llama-3.1-8b",
    messages: [{ role: "user", content: "hi" }],
    max_tokens: 4,
  });
}, 60_000);

afterAll(async () => {
  await c?.stop();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `llmlb ARGS` as an operator would, against the cluster unless env says otherwise. */
function llmlb(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const merged: Record<string, string | undefined> = {
    ...process.env,
    LLMLB_SERVER: c.url,
    LLMLB_API_KEY: c.apiKey,
    ...env,
  };
  // An undefined value would reach the child as the string "undefined".
  for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [LLMLB_BIN, ...args],
      { env: merged as NodeJS.ProcessEnv, timeout: 30_000 },
      (_err, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }),
    );
  });
}

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

// Each command is a fresh Node process (≈1 s to start): allow for a loaded machine.
describe("operator CLI against a running control plane", { timeout: 90_000 }, () => {
  it("shows nodes, loads and the strategy as tables and as JSON", async () => {
    const [nodes, nodesJson, load, loadOne, strategy] = await Promise.all([
      llmlb(["nodes"]),
      llmlb(["nodes", "--json"]),
      llmlb(["load"]),
      llmlb(["load", "c-node", "--json"]),
      llmlb(["lb-strategy"]),
    ]);
    expect(nodes.code).toBe(0);
    const [header, row] = nodes.stdout.trim().split("\n");
    expect(header).toMatch(/^ID\s+STATE\s+GPU%\s+VRAM%\s+KV%\s+ACTIVE/);
    expect(row).toMatch(/^c-node\s+online\s/);
    expect(row).toContain("llama-3.1-8b");
    expect(JSON.parse(nodesJson.stdout).nodes[0]).toMatchObject({ id: "c-node", state: "online" });

    expect(load.code).toBe(0);
    expect(load.stdout).toContain("Load Balancing Strategy: metrics");
    expect(load.stdout).toContain("Tracked Instances: 1");
    expect(load.stdout).toMatch(/INSTANCE\s+PROVIDER\s+ACTIVE\s+TOTAL\s+AVG RT\s+WEIGHT/);
    expect(load.stdout).toMatch(/c-node\s+llmlb\s+0\s+1\s+\d+ms\s+1\.80/);
    expect(JSON.parse(loadOne.stdout)).toMatchObject({
      instance_id: "c-node",
      provider: "llmlb",
      weight: 1.8,
    });

    expect(strategy.stdout).toBe("Load balancing strategy: metrics\n");
    const set = await llmlb(["lb-strategy", "least_connections"]);
    expect(set.code).toBe(0);
    expect(set.stdout).toBe("Load balancing strategy updated: least_connections\n");
    expect(c.cp.strategies.current).toBe("least_connections");
    const bad = await llmlb(["lb-strategy", "fastest"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /^llmlb: request failed \(400\): Unknown strategy "fastest"; valid: .*round_robin/,
    );
    c.cp.strategies.set("metrics");
  });

  it("creates, lists and revokes API keys, node tokens and users", async () => {
    const created = await llmlb(["keys", "create", "--name", "ci", "--rpm", "5", "--json"]);
    expect(created.code).toBe(0);
    const { key, api_key } = JSON.parse(created.stdout);
    expect(key).toMatch(/^sk-/);
    expect(api_key).toMatchObject({ name: "ci", rpm_limit: 5, scopes: ["inference"] });
    const human = await llmlb(["keys", "create", "--name", "ops", "--scopes", "inference,admin"]);
    expect(human.stdout).toMatch(
      /^Created API key \S+ \(ops\), scopes: inference,admin\nKey \(shown once, store it now\): sk-\S+\n$/,
    );

    const [list, tokenCreate, userCreate] = await Promise.all([
      llmlb(["keys", "list"]),
      llmlb(["node-tokens", "create", "--name", "rack-1", "--json"]),
      llmlb(["users", "create", "carol", "--password", "carol-pw", "--role", "user"]),
    ]);
    expect(list.stdout).toMatch(/^ID\s+NAME\s+PREFIX\s+OWNER\s+SCOPES/);
    expect(list.stdout).toMatch(/\sci\s+sk-\w{8}\s/);
    expect(list.stdout).not.toContain(key);
    expect(userCreate.stdout).toMatch(/^Created user carol \(/);
    const token = JSON.parse(tokenCreate.stdout);

    const [revoke, tokenList, userList] = await Promise.all([
      llmlb(["keys", "revoke", api_key.id]),
      llmlb(["node-tokens", "list"]),
      llmlb(["users", "list"]),
    ]);
    expect(revoke.stdout).toBe(`Revoked API key ${api_key.id} (ci).\n`);
    expect((await fetch(`${c.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(
      401,
    );
    expect(tokenList.stdout).toMatch(/rack-1\s+nt-\w{8}\s.*active/);
    expect(tokenList.stdout).toMatch(/static/);
    expect(userList.stdout).toMatch(/carol\s+user\s+active/);

    const [tokenRevoke, userDelete] = await Promise.all([
      llmlb(["node-tokens", "revoke", token.node_token.id]),
      llmlb(["users", "delete", "carol"]),
    ]);
    expect(tokenRevoke.code).toBe(0);
    expect(tokenRevoke.stdout).toContain(`Revoked node token ${token.node_token.id}`);
    expect(userDelete.stdout).toMatch(/^Deleted user carol /);
    expect(c.cp.nodes.get("c-node")?.state).toBe("online");
  });

  it("exits non-zero with a clear message: bad key 3, missing 4, unreachable 5, no key 2", async () => {
    const inference = await fetch(`${c.url}/v0/api-keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${c.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "app" }),
    }).then((r) => r.json() as Promise<{ key: string }>);
    const port = await closedPort();
    const [wrongKey, scope, missing, revokeMissing, unreachable, noKey] = await Promise.all([
      llmlb(["nodes"], { LLMLB_API_KEY: "sk-wrong" }),
      llmlb(["nodes", "--api-key", inference.key]),
      llmlb(["load", "ghost"]),
      llmlb(["keys", "revoke", "no-such-id"]),
      llmlb(["nodes", "--server", `http://127.0.0.1:${port}`]),
      llmlb(["nodes"], { LLMLB_API_KEY: undefined }),
    ]);
    expect(wrongKey.code).toBe(3);
    expect(wrongKey.stderr).toMatch(/^llmlb: authentication failed \(401\): .*LLMLB_API_KEY/);
    expect(scope.code).toBe(3);
    expect(scope.stderr).toMatch(/^llmlb: permission denied \(403\)/);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(/^llmlb: not found \(404\): No such instance/);
    expect(revokeMissing.code).toBe(4);
    expect(unreachable.code).toBe(5);
    expect(unreachable.stderr).toContain(
      `cannot reach llmlb at http://127.0.0.1:${port}: connection refused`,
    );
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain("no API key");
    for (const r of [wrongKey, scope, missing, unreachable, noKey]) {
      expect(r.stdout).toBe("");
      expect(r.stderr.split("\n").filter(Boolean)).toHaveLength(1);
    }
  });
});
