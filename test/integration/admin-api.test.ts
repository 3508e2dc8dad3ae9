import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, startCluster } from "../helpers/cluster.js";
import { httpClient, login } from "./admin-http.js";

let c: Cluster;
let call: ReturnType<typeof httpClient>;
let jwt: string;

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

beforeAll(async () => {
  c = await startCluster({
    nodes: [
      {
        id: "n-4090",
        profile: "rtx4090",
        model: "llama-3.1-8b",
        costPerHour: 0.35,
        region: "eu",
        tier: "gold",
        seed: 1,
      },
      // One slot and slow decoding, so requests wait in the fair queue.
      { id: "n-small", profile: "rtx3080", model: "llama-3.2-1b", maxConcurrency: 1, seed: 2 },
    ],
    timeScale: 4,
    // A relaxed heartbeat keeps nodes online on a loaded two-core CI machine (3 missed = offline).
    heartbeatSecs: 1,
    flags: { adminUser: "admin", adminPassword: "test" },
  });
  call = httpClient(c.url);
  jwt = await login(call, "admin", "test");
}, 60_000);

afterAll(async () => {
  await c?.stop();
});

describe("admin API: login and nodes (seed-001 quickstart shape)", () => {
  it("logs in with admin / test and says who the token belongs to", async () => {
    const r = await call("POST", "/v0/auth/login", { body: { username: "admin", password: "test" } });
    expect(r.status).toBe(200);
    expect(r.json.token.split(".")).toHaveLength(3);
    expect(r.json.expires_at).toMatch(ISO);
    expect(Date.parse(r.json.expires_at)).toBeGreaterThan(Date.now());
    expect(r.json.user).toMatchObject({ username: "admin", role: "admin", disabled: false });
    expect(r.headers.get("cache-control")).toBe("no-store");

    const me = await call("GET", "/v0/auth/me", { token: jwt });
    expect(me.json).toMatchObject({
      username: "admin",
      role: "admin",
      via: "jwt",
      scopes: ["admin", "inference"],
      key_id: null,
    });
    const meKey = await call("GET", "/v0/auth/me", { apiKey: c.apiKey });
    expect(meKey.json).toMatchObject({ username: "admin", via: "api_key" });
    expect(meKey.json.key_id).toMatch(/^static-sk-/);
  });

  it("lists nodes with every field, unknown figures as null, never 0", async () => {
    await c.openai.chat.completions.create({
      model: "llama-3.1-8b",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 4,
    });
    // Wait for a heartbeat carrying GPU figures.
    await c.waitFor(() => c.cp.nodes.get("n-4090")?.gpuUsagePercent !== undefined, 10_000, "gpu figures");
    const r = await call("GET", "/v0/nodes", { token: jwt });
    expect(r.status).toBe(200);
    expect(r.json.nodes.map((n: { id: string }) => n.id)).toEqual(["n-4090", "n-small"]);
    const n = r.json.nodes[0];
    for (const key of [
      "id",
      "state",
      "gpu_usage",
      "vram_usage",
      "active_requests",
      "total_requests",
      "avg_response_time_ms",
      "last_seen",
      "models",
      "gpus",
      "kv_cache_usage",
      "engine",
      "labels",
      "max_concurrency",
      "hostname",
      "agent_version",
      "gpu_source",
      "gpu_note",
      "completed",
      "failed",
    ]) {
      expect(n, key).toHaveProperty(key);
    }
    expect(n.state).toBe("online");
    expect(typeof n.gpu_usage).toBe("number");
    expect(typeof n.vram_usage).toBe("number");
    expect(n.total_requests).toBeGreaterThanOrEqual(1);
    expect(n.completed).toBeGreaterThanOrEqual(1);
    expect(typeof n.avg_response_time_ms).toBe("number");
    expect(n.last_seen).toMatch(ISO);
    expect(n.models).toEqual(["llama-3.1-8b"]);
    expect(n.labels).toEqual({ cost_per_hour_usd: 0.35, region: "eu", tier: "gold" });
    expect(n.engine.kind).toBe("sim");
    expect(n.engine.healthy).toBe(true);
    expect(n.gpus.length).toBeGreaterThanOrEqual(1);
    expect(Object.keys(n.gpus[0]).sort()).toEqual(
      [
        "index",
        "uuid",
        "name",
        "vram_total_mib",
        "vram_used_mib",
        "utilization_percent",
        "temperature_celsius",
        "power_watts",
        "compute_capability",
        "driver_version",
      ].sort(),
    );
    expect(n.gpus[0].name).toMatch(/4090/);
    // n-small has served nothing: no average yet, and it says so with null rather than 0.
    const small = r.json.nodes[1];
    expect(small.avg_response_time_ms).toBeNull();
    expect(small.labels.cost_per_hour_usd).toBeNull();
    expect(small.max_concurrency).toBe(1);
  });

  it("shows one node with its history and recent routing reasons; unknown ids are 404", async () => {
    const r = await call("GET", "/v0/nodes/n-4090", { token: jwt });
    expect(r.status).toBe(200);
    expect(r.json.id).toBe("n-4090");
    expect(r.json.history.length).toBeGreaterThan(0);
    expect(r.json.history.length).toBeLessThanOrEqual(10);
    expect(r.json.history[0].at).toMatch(ISO);
    expect(r.json.recent_reasons.length).toBeGreaterThanOrEqual(1);
    const missing = await call("GET", "/v0/nodes/no-such-node", { token: jwt });
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe("not_found");
  });

  it("shows the fair queue per user and model while requests wait", async () => {
    const stream = (i: number) =>
      c.openai.chat.completions.create({
        model: "llama-3.2-1b",
        messages: [{ role: "user", content: `wait ${i}` }],
        max_tokens: 60,
      });
    // Settled in any case, so a failure shows as this test's, not as an unhandled rejection.
    const pending = [0, 1, 2, 3].map((i) =>
      stream(i).then(
        () => "ok",
        (e: Error) => e.message,
      ),
    );
    await c.waitFor(() => c.cp.scheduler.queueSnapshot().total >= 2, 10_000, "a queue");
    const r = await call("GET", "/v0/queue", { token: jwt });
    const seen = r.json as {
      total: number;
      users: { username: string; by_model: Record<string, number> }[];
      oldest_wait_ms: number;
    };
    expect(r.status).toBe(200);
    expect(seen.total).toBeGreaterThanOrEqual(2);
    expect(seen.users[0]?.username).toBe("admin");
    expect(seen.users[0]?.by_model["llama-3.2-1b"]).toBeGreaterThanOrEqual(2);
    expect(r.json.by_model["llama-3.2-1b"]).toBe(seen.total);
    expect(typeof seen.oldest_wait_ms).toBe("number");
    expect(await Promise.all(pending)).toEqual(["ok", "ok", "ok", "ok"]);
    const after = await call("GET", "/v0/queue", { token: jwt });
    expect(after.json).toMatchObject({ total: 0, users: [] });
  });
});

describe("admin API: users, API keys, node tokens", () => {
  let alice: { id: string };
  let aliceJwt: string;

  it("creates, lists, patches and deletes users; refuses duplicates and removing the last admin", async () => {
    const created = await call("POST", "/v0/users", {
      token: jwt,
      body: { username: "alice", password: "alice-pw-1" },
    });
    expect(created.status).toBe(201);
    expect(created.json.user).toMatchObject({ username: "alice", role: "user", disabled: false });
    expect(created.json.user).not.toHaveProperty("password_hash");
    alice = created.json.user;
    const dup = await call("POST", "/v0/users", { token: jwt, body: { username: "ALICE", password: "x" } });
    expect(dup.status).toBe(409);
    expect(dup.json.error.code).toBe("conflict");
    const bad = await call("POST", "/v0/users", {
      token: jwt,
      body: { username: "bob", password: "x", role: "root" },
    });
    expect(bad.status).toBe(400);

    const list = await call("GET", "/v0/users", { token: jwt });
    expect(list.json.users.map((u: { username: string }) => u.username)).toEqual(["admin", "alice"]);

    const admin = list.json.users[0];
    const lastAdmin = await call("DELETE", `/v0/users/${admin.id}`, { token: jwt });
    expect(lastAdmin.status).toBe(409);
    const demote = await call("PATCH", `/v0/users/${admin.id}`, { token: jwt, body: { role: "user" } });
    expect(demote.status).toBe(409);

    const temp = await call("POST", "/v0/users", {
      token: jwt,
      body: { username: "temp", password: "temp-pw", role: "admin" },
    });
    const patched = await call("PATCH", `/v0/users/${temp.json.user.id}`, {
      token: jwt,
      body: { disabled: true, role: "user" },
    });
    expect(patched.json.user).toMatchObject({ role: "user", disabled: true });
    const refused = await call("POST", "/v0/auth/login", { body: { username: "temp", password: "temp-pw" } });
    expect(refused.status).toBe(401);
    const del = await call("DELETE", `/v0/users/${temp.json.user.id}`, { token: jwt });
    expect(del.json).toEqual({ id: temp.json.user.id, deleted: true });
    expect((await call("GET", `/v0/users/${temp.json.user.id}`, { token: jwt })).status).toBe(404);
  });

  it("lets a user manage only their own inference keys, and change only their own password", async () => {
    aliceJwt = await login(call, "alice", "alice-pw-1");
    // An admin creates a key for alice with limits; the plain key appears once.
    const forAlice = await call("POST", "/v0/api-keys", {
      token: jwt,
      body: { name: "alice batch", owner_user_id: alice.id, rpm_limit: 100, tpm_limit: 100000 },
    });
    expect(forAlice.status).toBe(201);
    expect(forAlice.json.key).toMatch(/^sk-/);
    expect(forAlice.json.api_key).toMatchObject({
      name: "alice batch",
      owner_user_id: alice.id,
      scopes: ["inference"],
      rpm_limit: 100,
    });
    const adminKey = await call("POST", "/v0/api-keys", {
      token: jwt,
      body: { name: "ops", scopes: ["admin"] },
    });
    expect(adminKey.json.api_key.scopes).toEqual(["admin"]);

    const own = await call("POST", "/v0/api-keys", { token: aliceJwt, body: { name: "mine" } });
    expect(own.status).toBe(201);
    const mineList = await call("GET", "/v0/api-keys", { token: aliceJwt });
    expect(mineList.json.api_keys.map((k: { name: string }) => k.name).sort()).toEqual([
      "alice batch",
      "mine",
    ]);
    expect(mineList.text).not.toContain(own.json.key);

    expect(
      (await call("POST", "/v0/api-keys", { token: aliceJwt, body: { scopes: ["admin"] } })).status,
    ).toBe(403);
    expect(
      (await call("POST", "/v0/api-keys", { token: aliceJwt, body: { owner_user_id: "someone" } })).status,
    ).toBe(403);
    // Someone else's key looks like a missing one.
    expect(
      (await call("DELETE", `/v0/api-keys/${adminKey.json.api_key.id}`, { token: aliceJwt })).status,
    ).toBe(404);
    expect((await call("GET", `/v0/api-keys/${adminKey.json.api_key.id}`, { token: aliceJwt })).status).toBe(
      404,
    );
    // An inference key cannot manage keys, even its owner's.
    expect((await call("GET", "/v0/api-keys", { token: own.json.key })).status).toBe(403);

    const works = await call("GET", "/v1/models", { token: own.json.key });
    expect(works.status).toBe(200);
    const revoked = await call("DELETE", `/v0/api-keys/${own.json.api_key.id}`, { token: aliceJwt });
    expect(revoked.status).toBe(200);
    expect(revoked.json.api_key.revoked_at).toMatch(ISO);
    expect((await call("GET", "/v1/models", { token: own.json.key })).status).toBe(401);

    // Static keys live in config: revoking one is a conflict, not a silent no-op.
    const all = await call("GET", "/v0/api-keys", { token: jwt });
    const staticKey = all.json.api_keys.find((k: { static: boolean }) => k.static);
    expect(staticKey).toBeDefined();
    expect((await call("DELETE", `/v0/api-keys/${staticKey.id}`, { token: jwt })).status).toBe(409);
    const filtered = await call("GET", `/v0/api-keys?owner_user_id=${alice.id}`, { token: jwt });
    expect(filtered.json.api_keys.every((k: { owner_user_id: string }) => k.owner_user_id === alice.id)).toBe(
      true,
    );

    // Alice may change her own password with her session, but nothing else about herself.
    expect(
      (await call("PATCH", `/v0/users/${alice.id}`, { token: aliceJwt, body: { role: "admin" } })).status,
    ).toBe(403);
    const pw = await call("PATCH", `/v0/users/${alice.id}`, {
      token: aliceJwt,
      body: { password: "alice-pw-2" },
    });
    expect(pw.status).toBe(200);
    // The password change voids her old sessions.
    expect((await call("GET", "/v0/auth/me", { token: aliceJwt })).status).toBe(401);
    aliceJwt = await login(call, "alice", "alice-pw-2");
  });

  it("creates, lists and revokes node tokens (admin only)", async () => {
    const t = await call("POST", "/v0/node-tokens", { token: jwt, body: { name: "rack-7" } });
    expect(t.status).toBe(201);
    expect(t.json.token).toMatch(/^nt-/);
    expect(t.json.node_token).toMatchObject({ name: "rack-7", revoked_at: null, static: false });
    const unnamed = await call("POST", "/v0/node-tokens", { token: jwt });
    expect(unnamed.status).toBe(201);
    const list = await call("GET", "/v0/node-tokens", { token: jwt });
    expect(list.json.node_tokens.map((x: { name: string }) => x.name)).toContain("rack-7");
    expect(list.text).not.toContain(t.json.token);
    expect(list.json.node_tokens.some((x: { static: boolean }) => x.static)).toBe(true);
    expect((await call("GET", "/v0/node-tokens", { token: aliceJwt })).status).toBe(403);
    const del = await call("DELETE", `/v0/node-tokens/${t.json.node_token.id}`, { token: jwt });
    expect(del.json.node_token.revoked_at).toMatch(ISO);
    expect((await call("DELETE", "/v0/node-tokens/nope", { token: jwt })).status).toBe(404);
  });
});

describe("seed-004 load balancer API", () => {
  it("gets and sets the strategy with X-API-Key; unknown names list the valid ones", async () => {
    const get = await call("GET", "/api/v1/loadbalancer/strategy", { apiKey: c.apiKey });
    expect(get.status).toBe(200);
    expect(get.json).toEqual({ strategy: "metrics" });
    const put = await call("PUT", "/api/v1/loadbalancer/strategy", {
      apiKey: c.apiKey,
      body: { strategy: "least_connections" },
    });
    expect(put.json).toEqual({ strategy: "least_connections", message: "Load balancing strategy updated" });
    expect(c.cp.strategies.current).toBe("least_connections");
    const bad = await call("PUT", "/api/v1/loadbalancer/strategy", {
      apiKey: c.apiKey,
      body: { strategy: "fastest" },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toContain("round_robin");
    expect(c.cp.strategies.current).toBe("least_connections");
    await call("PUT", "/api/v1/loadbalancer/strategy", { token: jwt, body: { strategy: "metrics" } });
  });

  it("reports loads in the seed's shape, and one instance by id", async () => {
    const r = await call("GET", "/api/v1/loadbalancer/loads", { apiKey: c.apiKey });
    expect(r.status).toBe(200);
    expect(r.json.strategy).toBe("metrics");
    expect(r.json.count).toBe(2);
    const l = r.json.loads["n-4090"];
    expect(l).toMatchObject({ instance_id: "n-4090", provider: "llmlb", active_connections: 0 });
    expect(l.total_connections).toBeGreaterThanOrEqual(1);
    expect(l.avg_response_time).toMatch(/^\d+ms$/);
    expect(l.last_response_time).toMatch(/^\d+ms$/);
    // 24 GB card at $0.35/h: 1.5 × 1.2.
    expect(l.weight).toBe(1.8);
    expect(l.last_used).toMatch(ISO);
    const one = await call("GET", "/api/v1/loadbalancer/load?instance_id=n-4090", { apiKey: c.apiKey });
    expect(one.json).toEqual(l);
    expect(
      (await call("GET", "/api/v1/loadbalancer/load?instance_id=vast-12345", { apiKey: c.apiKey })).status,
    ).toBe(404);
    expect((await call("GET", "/api/v1/loadbalancer/load", { apiKey: c.apiKey })).status).toBe(400);
  });
});

describe("drain", () => {
  it("drains a connected node: it stops taking jobs; unknown nodes are 404", async () => {
    const r = await call("POST", "/v0/nodes/n-small/drain", { token: jwt });
    expect(r.status).toBe(200);
    expect(r.json.state).toBe("draining");
    await c.waitFor(() => c.cp.nodes.get("n-small")?.state === "draining", 5000, "draining");
    const again = await call("POST", "/v0/nodes/n-small/drain", {
      token: jwt,
      body: { reason: "maintenance" },
    });
    expect(again.status).toBe(200);
    expect((await call("POST", "/v0/nodes/ghost/drain", { token: jwt })).status).toBe(404);
  });
});
