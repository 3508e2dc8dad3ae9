import { randomBytes } from "node:crypto";
import { type Fleet, launchFleet, type SimNodeSpec } from "../fleet/launcher.js";
import { type ServeFlags, startControlPlane } from "./serve.js";
import { onShutdownSignal } from "./signals.js";

/** The demo fleet: mixed consumer and datacenter GPUs, as DESIGN.md describes. */
export const DEMO_FLEET: readonly SimNodeSpec[] = [
  { id: "node-rtx4090", profile: "rtx4090", model: "llama-3.1-8b", costPerHour: 0.35, seed: 1 },
  { id: "node-rtx3090", profile: "rtx3090", model: "llama-3.1-8b", costPerHour: 0.22, seed: 2 },
  { id: "node-a100", profile: "a100-80g", model: "llama-3.1-8b", costPerHour: 1.29, seed: 3 },
  { id: "node-rtx3080", profile: "rtx3080", model: "llama-3.2-1b", costPerHour: 0.17, seed: 4 },
];

/** `llmlb demo` (= `npm start`): control plane + simulated fleet; Ctrl-C stops everything. */
export async function demoCommand(flags: ServeFlags & { timeScale?: string }): Promise<void> {
  const { timeScale, ...serveFlags } = flags;
  const scale = Number(timeScale ?? "1");
  if (!Number.isFinite(scale) || scale <= 0)
    throw new Error(`--time-scale must be a positive number, got ${timeScale}`);
  const configuredKeys = (process.env.LLMLB_API_KEYS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const apiKey = configuredKeys[0] ?? `sk-demo-${randomBytes(16).toString("hex")}`;
  const nodeToken = `nt-demo-${randomBytes(16).toString("hex")}`;
  // DESIGN.md: the demo's first admin is admin / test unless the operator set one.
  const adminUser = process.env.LLMLB_ADMIN_USER || "admin";
  const adminPassword = process.env.LLMLB_ADMIN_PASSWORD || "test";
  const { cp, url } = await startControlPlane({
    adminUser,
    adminPassword,
    ...serveFlags,
    apiKeys: [apiKey, ...configuredKeys.slice(1)].join(","),
    nodeTokens: [nodeToken, ...(process.env.LLMLB_NODE_TOKENS ?? "").split(",").filter(Boolean)].join(","),
  });
  let fleet: Fleet | undefined;
  onShutdownSignal(async () => {
    await fleet?.stop();
    await cp.close();
  });
  fleet = await launchFleet({ serverUrl: url, nodeToken, nodes: DEMO_FLEET, timeScale: scale });
  await waitForNodes(cp.nodes, DEMO_FLEET.length, 30_000);
  const lines = [
    "",
    `llmlb demo is running on ${url}`,
    `  nodes:    ${DEMO_FLEET.map((n) => `${n.id} (${n.profile}, ${n.model})`).join(", ")}`,
    `  API key:  ${apiKey}`,
    `  admin:    ${adminUser} / ${adminPassword === "test" ? "test  (demo password — change it before exposing llmlb)" : "(from LLMLB_ADMIN_PASSWORD)"}`,
    `  dashboard: ${url}/`,
    "",
    "Try:",
    `  curl -s ${url}/v1/chat/completions \\`,
    `    -H "Authorization: Bearer ${apiKey}" -H "Content-Type: application/json" \\`,
    `    -d '{"model":"llama-3.1-8b","messages":[{"role":"user","content":"Hello"}],"max_tokens":32}'`,
    "",
    "Ctrl-C stops the control plane and every node.",
    "",
  ];
  process.stdout.write(lines.join("\n"));
}

async function waitForNodes(
  nodes: { all(): Iterable<{ state: string }> },
  n: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let online = 0;
    for (const node of nodes.all()) if (node.state === "online") online++;
    if (online >= n) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  process.stderr.write(`warning: not every demo node came online within ${timeoutMs / 1000} s\n`);
}
