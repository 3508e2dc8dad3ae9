import { randomBytes } from "node:crypto";
import OpenAI from "openai";
import pino from "pino";
import { loadServerConfig } from "../../src/config/server-config.js";
import { type Fleet, launchFleet, type SimNodeSpec } from "../../src/fleet/launcher.js";
import { setupAuth } from "../../src/server/auth-setup.js";
import { type ControlPlane, createControlPlane } from "../../src/server/control-plane.js";

/** A control plane on port 0 plus a fleet of real sim + agent processes. */
export interface Cluster {
  readonly cp: ControlPlane;
  readonly url: string;
  readonly apiKey: string;
  /** A key with the `inference` scope only (the static apiKey also has `admin`). */
  readonly inferenceKey: string;
  readonly nodeToken: string;
  readonly fleet: Fleet;
  readonly openai: OpenAI;
  /** Stored users created with `users: N` (each owns one inference key): distinct fair-queue users. */
  readonly users: readonly { userId: string; apiKey: string; openai: OpenAI }[];
  /** Waits until the given nodes are online (all fleet nodes by default). */
  waitOnline(ids?: string[], timeoutMs?: number): Promise<void>;
  waitFor(cond: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a cluster; flags are `llmlb serve` options (camelCase). */
export async function startCluster(o: {
  nodes: SimNodeSpec[];
  timeScale?: number;
  flags?: Record<string, unknown>;
  heartbeatSecs?: number;
  users?: number;
}): Promise<Cluster> {
  const apiKey = `sk-test-${randomBytes(12).toString("hex")}`;
  const nodeToken = `nt-test-${randomBytes(12).toString("hex")}`;
  const config = loadServerConfig({
    flags: {
      port: 0,
      host: "127.0.0.1",
      db: ":memory:",
      heartbeatSecs: o.heartbeatSecs ?? 0.5,
      apiKeys: [apiKey],
      nodeTokens: [nodeToken],
      ...o.flags,
    },
    env: {},
    toml: {},
  });
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
  const { store, auth, credentials } = await setupAuth(config, logger);
  const inferenceKey = `sk-test-inf-${randomBytes(12).toString("hex")}`;
  auth.apiKeys.addStaticApiKeys([inferenceKey], "test-inference-user");
  const users: { userId: string; apiKey: string }[] = [];
  for (let i = 0; i < (o.users ?? 0); i++) {
    const user = await auth.users.createUser({
      username: `test-user-${i}`,
      password: randomBytes(12).toString("hex"),
    });
    const { key } = auth.apiKeys.createApiKey({
      name: `test-key-${i}`,
      ownerUserId: user.id,
      scopes: ["inference"],
    });
    users.push({ userId: user.id, apiKey: key });
  }
  const cp = await createControlPlane(config, { logger, credentials, auth, onClose: () => store.close() });
  const { url } = await cp.listen();
  let fleet: Fleet;
  try {
    fleet = await launchFleet({
      serverUrl: url,
      nodeToken,
      nodes: o.nodes,
      timeScale: o.timeScale ?? 20,
      heartbeatSecs: o.heartbeatSecs ?? 0.5,
      stdio: process.env.TEST_LOG_LEVEL ? "inherit" : "ignore",
      logLevel: process.env.TEST_LOG_LEVEL ?? "warn",
    });
  } catch (err) {
    await cp.close();
    throw err;
  }
  const waitFor = async (cond: () => boolean, timeoutMs = 20_000, what = "condition") => {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const cluster: Cluster = {
    cp,
    url,
    apiKey,
    inferenceKey,
    nodeToken,
    fleet,
    openai: new OpenAI({ apiKey, baseURL: `${url}/v1`, maxRetries: 0, timeout: 30_000 }),
    users: users.map((u) => ({
      ...u,
      openai: new OpenAI({ apiKey: u.apiKey, baseURL: `${url}/v1`, maxRetries: 0, timeout: 30_000 }),
    })),
    waitFor,
    waitOnline: (ids = o.nodes.map((n) => n.id), timeoutMs = 20_000) =>
      waitFor(
        () => ids.every((id) => cp.nodes.get(id)?.state === "online"),
        timeoutMs,
        `nodes ${ids.join(", ")} online`,
      ),
    async stop() {
      await fleet.stop();
      await cp.close();
    },
  };
  try {
    await cluster.waitOnline();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/** Reads a sim's /sim/state. */
export async function simState(
  simUrl: string,
): Promise<{ running: number; waiting: number; stalled: number; cancelled: number; completed: number }> {
  const r = await fetch(`${simUrl}/sim/state`);
  return (await r.json()) as {
    running: number;
    waiting: number;
    stalled: number;
    cancelled: number;
    completed: number;
  };
}

/** Sets a sim's fault switches (POST /sim/control), e.g. `{ stall: true }`. */
export async function simControl(simUrl: string, body: Record<string, unknown>): Promise<void> {
  const r = await fetch(`${simUrl}/sim/control`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`sim control failed: ${r.status} ${await r.text()}`);
}
