import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT, UnsecuredJWT } from "jose";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadServerConfig } from "../../src/config/server-config.js";
import {
  type Fleet,
  launchFleet,
  startAgentProcess,
  startSimProcess,
  stopProcess,
} from "../../src/fleet/launcher.js";
import { setupAuth } from "../../src/server/auth-setup.js";
import { type ControlPlane, createControlPlane } from "../../src/server/control-plane.js";
import { httpClient, login, type Reply } from "./admin-http.js";

// The control plane is built here rather than with startCluster: the test needs a file database it
// can grep and a logger whose every line it can read.
const dir = mkdtempSync(join(tmpdir(), "llmlb-security-"));
const ADMIN_PW = `admin-pw-${randomBytes(8).toString("hex")}`;
const JWT_SECRET = randomBytes(32).toString("hex");
const STATIC_KEY = `sk-static-${randomBytes(12).toString("hex")}`;
const NODE_TOKEN = `nt-static-${randomBytes(12).toString("hex")}`;
const MODEL = "llama-3.1-8b";

const logLines: string[] = [];
const replies: { path: string; reply: Reply }[] = [];
/** Plain secrets this test created: none may appear in the DB file, the logs, or later replies. */
const secrets = new Set<string>([ADMIN_PW, STATIC_KEY, NODE_TOKEN]);
const passwords = new Set<string>([ADMIN_PW]);

let cp: ControlPlane;
let url: string;
let fleet: Fleet;
let call: ReturnType<typeof httpClient>;
let jwt: string;
let adminId: string;
let inferenceKey: string;
const extraProcs: ChildProcess[] = [];

beforeAll(async () => {
  const config = loadServerConfig({
    flags: {
      port: 0,
      host: "127.0.0.1",
      db: join(dir, "llmlb.db"),
      heartbeatSecs: 1,
      apiKeys: [STATIC_KEY],
      nodeTokens: [NODE_TOKEN],
      adminUser: "admin",
      adminPassword: ADMIN_PW,
      jwtSecret: JWT_SECRET,
    },
    env: {},
    toml: {},
  });
  // No redaction here on purpose: nothing sensitive may reach the logger in the first place.
  const logger = pino({ level: "trace" }, { write: (line: string) => void logLines.push(line) });
  const { store, auth, credentials } = await setupAuth(config, logger);
  cp = await createControlPlane(config, { logger, credentials, auth, onClose: () => store.close() });
  ({ url } = await cp.listen());
  fleet = await launchFleet({
    serverUrl: url,
    nodeToken: NODE_TOKEN,
    nodes: [{ id: "s1", profile: "rtx4090", model: MODEL, instant: true, seed: 1 }],
    timeScale: 20,
    heartbeatSecs: 1,
  });
  await waitFor(() => cp.nodes.get("s1")?.state === "online", 20_000);
  call = httpClient(url, (reply, path) => replies.push({ path, reply }));
  jwt = await login(call, "admin", ADMIN_PW);
  secrets.add(jwt);
  adminId = (await call("GET", "/v0/auth/me", { token: jwt })).json.user_id;
  inferenceKey = await createKey({ name: "app" });
}, 60_000);

afterAll(async () => {
  await Promise.all(extraProcs.map((p) => stopProcess(p)));
  await fleet?.stop();
  await cp?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function createKey(body: Record<string, unknown>): Promise<string> {
  const r = await call("POST", "/v0/api-keys", { token: jwt, body });
  expect(r.status).toBe(201);
  secrets.add(r.json.key);
  return r.json.key;
}

const chat = (key: string, maxTokens = 8) =>
  call("POST", "/v1/chat/completions", {
    token: key,
    body: { model: MODEL, messages: [{ role: "user", content: "Hello" }], max_tokens: maxTokens },
  });

describe("login", () => {
  it("answers a wrong password exactly like an unknown user", async () => {
    const wrong = await call("POST", "/v0/auth/login", { body: { username: "admin", password: "nope" } });
    const unknown = await call("POST", "/v0/auth/login", {
      body: { username: "nobody-here", password: "nope" },
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.json).toEqual(unknown.json);
    expect(wrong.json.error.code).toBe("invalid_credentials");
  });

  it("throttles repeated failures per user and IP, for real and unknown users alike, with Retry-After", async () => {
    const bobPw = `bob-${randomBytes(6).toString("hex")}`;
    passwords.add(bobPw);
    secrets.add(bobPw);
    expect(
      (await call("POST", "/v0/users", { token: jwt, body: { username: "bob", password: bobPw } })).status,
    ).toBe(201);
    for (const username of ["bob", "ghost"]) {
      for (let i = 0; i < 5; i++) {
        const r = await call("POST", "/v0/auth/login", { body: { username, password: `guess-${i}` } });
        expect(r.status).toBe(401);
      }
      const blocked = await call("POST", "/v0/auth/login", { body: { username, password: "guess-6" } });
      expect(blocked.status).toBe(429);
      expect(blocked.json.error.code).toBe("rate_limit_exceeded");
      expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    }
    // While blocked, even the right password is refused (the guesser learns nothing).
    expect(
      (await call("POST", "/v0/auth/login", { body: { username: "bob", password: bobPw } })).status,
    ).toBe(429);
    // Other users are unaffected.
    expect(
      (await call("POST", "/v0/auth/login", { body: { username: "admin", password: ADMIN_PW } })).status,
    ).toBe(200);
  });
});

describe("JWTs", () => {
  const sign = (key: Uint8Array, o: { alg?: string; exp?: number; iat?: number } = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ username: "admin", role: "admin", ver: 0 })
      .setProtectedHeader({ alg: o.alg ?? "HS256", typ: "JWT" })
      .setSubject(adminId)
      .setIssuer("llmlb")
      .setAudience("llmlb-admin")
      .setIssuedAt(o.iat ?? now)
      .setExpirationTime(o.exp ?? now + 3600)
      .sign(key);
  };
  const rightKey = new TextEncoder().encode(JWT_SECRET);

  it("accepts a token made with the server's secret (so the refusals below are about what they test)", async () => {
    const token = await sign(rightKey);
    expect((await call("GET", "/v0/nodes", { token })).status).toBe(200);
  });

  it("refuses forged, expired, alg:none and other-algorithm tokens with 401", async () => {
    const now = Math.floor(Date.now() / 1000);
    const forged = await sign(new TextEncoder().encode(randomBytes(32).toString("hex")));
    const expired = await sign(rightKey, { iat: now - 7200, exp: now - 3600 });
    const hs512 = await sign(rightKey, { alg: "HS512" });
    const none = new UnsecuredJWT({ username: "admin", role: "admin", ver: 0 })
      .setSubject(adminId)
      .setIssuer("llmlb")
      .setAudience("llmlb-admin")
      .setIssuedAt()
      .setExpirationTime("1h")
      .encode();
    const tampered = `${jwt.split(".")[0]}.${Buffer.from(JSON.stringify({ sub: adminId, role: "admin" })).toString("base64url")}.${jwt.split(".")[2]}`;
    for (const token of [forged, expired, hs512, none, tampered, "a.b.c"]) {
      const r = await call("GET", "/v0/nodes", { token });
      expect(r.status, token).toBe(401);
      expect(r.json.error.code).toBe("invalid_api_key");
    }
  });
});

describe("keys and scopes", () => {
  it("refuses a revoked key on the very next request", async () => {
    const key = await createKey({ name: "short-lived" });
    expect((await call("GET", "/v1/models", { token: key })).status).toBe(200);
    const list = await call("GET", "/v0/api-keys", { token: jwt });
    const id = list.json.api_keys.find((k: { name: string }) => k.name === "short-lived").id;
    expect((await call("DELETE", `/v0/api-keys/${id}`, { token: jwt })).status).toBe(200);
    expect((await call("GET", "/v1/models", { token: key })).status).toBe(401);
    expect((await call("GET", "/v1/models", { apiKey: key })).status).toBe(401);
  });

  it("requires a credential everywhere except health and (by default) metrics; an inference key gets 403 on admin routes", async () => {
    const adminRoutes: [string, string, unknown?][] = [
      ["GET", "/v0/nodes"],
      ["GET", "/v0/nodes/s1"],
      ["POST", "/v0/nodes/s1/drain"],
      ["GET", "/v0/queue"],
      ["GET", "/v0/users"],
      ["POST", "/v0/users", { username: "mallory", password: "x" }],
      ["DELETE", `/v0/users/${adminId}`],
      ["GET", "/v0/node-tokens"],
      ["POST", "/v0/node-tokens", { name: "x" }],
      ["DELETE", "/v0/node-tokens/x"],
      ["GET", "/api/v1/loadbalancer/strategy"],
      ["PUT", "/api/v1/loadbalancer/strategy", { strategy: "round_robin" }],
      ["GET", "/api/v1/loadbalancer/loads"],
      ["GET", "/api/v1/loadbalancer/load?instance_id=s1"],
      // Key management needs a login session or an admin key.
      ["GET", "/v0/api-keys"],
      ["POST", "/v0/api-keys", { name: "x" }],
    ];
    for (const [method, path, body] of adminRoutes) {
      const anon = await call(method, path, body === undefined ? {} : { body });
      expect(anon.status, `${method} ${path} without a key`).toBe(401);
      const wrong = await call(method, path, {
        token: "sk-not-a-real-key",
        ...(body === undefined ? {} : { body }),
      });
      expect(wrong.status, `${method} ${path} with a bad key`).toBe(401);
      const inf = await call(method, path, { token: inferenceKey, ...(body === undefined ? {} : { body }) });
      expect(inf.status, `${method} ${path} with an inference key`).toBe(403);
      expect(inf.json.error.code).toBe("insufficient_scope");
    }
    for (const path of ["/v1/models", "/v0/auth/me"]) expect((await call("GET", path)).status).toBe(401);
    const anonChat = { model: MODEL, messages: [{ role: "user", content: "hi" }] };
    expect((await call("POST", "/v1/chat/completions", { body: anonChat })).status).toBe(401);
    for (const path of ["/healthz", "/readyz", "/metrics"])
      expect((await call("GET", path)).status).toBe(200);
    expect(cp.strategies.current).toBe("metrics");
    expect(cp.nodes.get("s1")?.state).toBe("online");
  });

  it("enforces per-key RPM and TPM limits with 429 and Retry-After", async () => {
    const rpmKey = await createKey({ name: "rpm", rpm_limit: 2 });
    expect((await chat(rpmKey)).status).toBe(200);
    expect((await chat(rpmKey)).status).toBe(200);
    const over = await chat(rpmKey);
    expect(over.status).toBe(429);
    expect(over.json.error.code).toBe("rate_limit_exceeded");
    expect(over.json.error.type).toBe("rate_limit_error");
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);

    const tpmKey = await createKey({ name: "tpm", tpm_limit: 60 });
    const first = await chat(tpmKey, 50);
    expect(first.status).toBe(200);
    expect(first.json.usage.total_tokens).toBeGreaterThan(0);
    const second = await chat(tpmKey, 50);
    expect(second.status).toBe(429);
    expect(second.json.error.message).toContain("tokens");
    // Other keys are unaffected.
    expect((await chat(inferenceKey)).status).toBe(200);
  });

  it("keeps key creation and revocation consistent under concurrent HTTP requests", async () => {
    const created = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        call("POST", "/v0/api-keys", { token: jwt, body: { name: `burst-${i}` } }),
      ),
    );
    expect(created.every((r) => r.status === 201)).toBe(true);
    for (const r of created) secrets.add(r.json.key);
    const ids = created.map((r) => r.json.api_key.id as string);
    expect(new Set(ids).size).toBe(30);
    expect(new Set(created.map((r) => r.json.key)).size).toBe(30);
    const [revoke, keep] = [created.slice(0, 15), created.slice(15)];
    const results = await Promise.all([
      ...revoke.map((r) => call("DELETE", `/v0/api-keys/${r.json.api_key.id}`, { token: jwt })),
      // The same revocation twice at once must not fail either.
      ...revoke.slice(0, 5).map((r) => call("DELETE", `/v0/api-keys/${r.json.api_key.id}`, { token: jwt })),
      ...keep.map((r) => call("GET", "/v1/models", { token: r.json.key })),
    ]);
    expect(results.every((r) => r.status === 200)).toBe(true);
    const list = await call("GET", "/v0/api-keys", { token: jwt });
    const burst = list.json.api_keys.filter((k: { name: string }) => k.name.startsWith("burst-"));
    expect(burst).toHaveLength(30);
    expect(burst.filter((k: { revoked_at: string | null }) => k.revoked_at !== null)).toHaveLength(15);
    const after = await Promise.all(created.map((r) => call("GET", "/v1/models", { token: r.json.key })));
    expect(after.slice(0, 15).every((r) => r.status === 401)).toBe(true);
    expect(after.slice(15).every((r) => r.status === 200)).toBe(true);
  });
});

describe("hostile input", () => {
  it("answers SQL-looking and path-traversal ids with a clean 404 or 400", async () => {
    const ids = [
      "..%2F..%2Fetc%2Fpasswd",
      "..%2F..%2Fetc",
      encodeURIComponent("' OR 1=1 --"),
      encodeURIComponent("1; DROP TABLE users"),
      "%00",
    ];
    for (const id of ids) {
      for (const [method, base] of [
        ["GET", "/v0/nodes/"],
        ["GET", "/v0/users/"],
        ["DELETE", "/v0/api-keys/"],
        ["GET", "/v0/node-tokens/"],
        ["DELETE", "/v0/users/"],
      ] as const) {
        const r = await call(method, base + id, { token: jwt });
        expect([400, 404], `${method} ${base}${id}`).toContain(r.status);
        expect(r.json.error.message).not.toMatch(/sqlite|syntax|at \//i);
      }
    }
    // Node ids are at most 128 characters; a 128-character unknown id is an ordinary 404.
    expect((await call("GET", `/v0/nodes/${"x".repeat(128)}`, { token: jwt })).status).toBe(404);
    const long = await call("GET", `/v0/nodes/${"x".repeat(300)}`, { token: jwt });
    expect([400, 414]).toContain(long.status);
    expect(long.json.error.message).not.toMatch(/ at /);
    const q = await call(
      "GET",
      `/api/v1/loadbalancer/load?instance_id=${encodeURIComponent("' OR 1=1 --")}`,
      { token: jwt },
    );
    expect(q.status).toBe(404);
    // A hostile username is stored verbatim and harms nothing.
    const evil = "'; DROP TABLE users; --";
    const u = await call("POST", "/v0/users", {
      token: jwt,
      body: { username: evil, password: "pw-evil-1" },
    });
    expect(u.status).toBe(201);
    const list = await call("GET", "/v0/users", { token: jwt });
    expect(list.json.users.map((x: { username: string }) => x.username)).toContain(evil);
    expect(
      (await call("POST", "/v0/auth/login", { body: { username: "' OR 1=1 --", password: "' OR 1=1 --" } }))
        .status,
    ).toBe(401);
  });

  it("refuses oversized and malformed bodies with 413 / 400, and checks credentials before reading a body", async () => {
    const big = JSON.stringify({ username: "admin", password: "x".repeat(100_000) });
    expect((await call("POST", "/v0/auth/login", { rawBody: big })).status).toBe(413);
    const bigUser = JSON.stringify({ username: "y", password: "x".repeat(100_000) });
    expect((await call("POST", "/v0/users", { token: jwt, rawBody: bigUser })).status).toBe(413);
    expect((await call("POST", "/v0/users", { rawBody: bigUser })).status).toBe(401);
    const huge = JSON.stringify({
      model: MODEL,
      messages: [{ role: "user", content: "x".repeat(5 * 1024 * 1024) }],
    });
    expect((await call("POST", "/v1/chat/completions", { token: inferenceKey, rawBody: huge })).status).toBe(
      413,
    );
    const malformed = await call("POST", "/v0/api-keys", { token: jwt, rawBody: "{not json" });
    expect(malformed.status).toBe(400);
    const wrongType = await call("POST", "/v0/api-keys", {
      token: jwt,
      body: { name: "x", rpm_limit: "10" },
    });
    expect(wrongType.status).toBe(400);
    // Unknown fields are refused rather than silently dropped.
    const extra = await call("POST", "/v0/users", {
      token: jwt,
      body: { username: "z", password: "p", is_root: true },
    });
    expect(extra.status).toBe(400);
    const typo = await call("PATCH", `/v0/users/${adminId}`, { token: jwt, body: { disabeld: true } });
    expect(typo.status).toBe(400);
  });
});

describe("node tokens", () => {
  it("closes a node's stream at once when its token is revoked through the API", async () => {
    const created = await call("POST", "/v0/node-tokens", { token: jwt, body: { name: "rev-node" } });
    secrets.add(created.json.token);
    const spec = { id: "rev", profile: "rtx3080", model: "llama-3.2-1b", instant: true, seed: 3 };
    const sim = await startSimProcess(spec, 20);
    extraProcs.push(sim.proc);
    const agent = startAgentProcess(spec, sim.url, {
      serverUrl: url,
      nodeToken: created.json.token,
      nodes: [],
      heartbeatSecs: 1,
    });
    extraProcs.push(agent);
    await waitFor(() => cp.nodes.get("rev")?.state === "online", 20_000);
    const r = await call("DELETE", `/v0/node-tokens/${created.json.node_token.id}`, { token: jwt });
    expect(r.status).toBe(200);
    // Synchronous: by the time the revocation is answered, the stream is gone.
    expect(cp.nodes.get("rev")?.state).toBe("offline");
    expect(cp.sessions.has("rev")).toBe(false);
    // The agent keeps retrying with the dead token and is refused every time.
    await new Promise((res) => setTimeout(res, 800));
    expect(cp.nodes.get("rev")?.state).toBe("offline");
    // The other node, on another token, is untouched.
    expect(cp.nodes.get("s1")?.state).toBe("online");
  });
});

describe("nothing leaks", () => {
  it("never returns secrets, hashes or stack traces (except each new key once, in its create reply)", () => {
    expect(replies.length).toBeGreaterThan(100);
    for (const { path, reply } of replies) {
      for (const s of secrets) {
        if (!reply.text.includes(s)) continue;
        const isCreate =
          reply.json?.key === s ||
          reply.json?.token === s ||
          (path === "/v0/auth/login" && reply.json?.token === s);
        expect(isCreate && !passwords.has(s), `${path} leaked a secret`).toBe(true);
      }
      expect(reply.text).not.toMatch(/\$argon2|password_hash|"hash"|\n\s+at |node_modules|\.ts:\d+/);
    }
  });

  it("never logs secrets, hashes or stack traces", () => {
    expect(logLines.length).toBeGreaterThan(10);
    const all = logLines.join("");
    expect(all).toContain("API key created");
    expect(all).toContain("login failed");
    for (const s of secrets) expect(all.includes(s), "a secret reached the log").toBe(false);
    expect(all).not.toMatch(/\$argon2|password_hash|"stack"/);
  });

  it("keeps plain keys, tokens and passwords out of the database file", () => {
    const files = readdirSync(dir).filter((f) => f.startsWith("llmlb.db"));
    expect(files).toContain("llmlb.db");
    const bytes = Buffer.concat(files.map((f) => readFileSync(join(dir, f))));
    // Sanity: the display prefixes are stored, so these are the right files.
    const stored = [...secrets].filter((s) => /^(sk|nt)-[A-Za-z0-9]{43}$/.test(s));
    expect(stored.length).toBeGreaterThan(30);
    expect(stored.some((s) => bytes.includes(Buffer.from(s.slice(0, 11))))).toBe(true);
    for (const s of secrets)
      expect(bytes.includes(Buffer.from(s)), "a secret is in the database file").toBe(false);
  });
});
