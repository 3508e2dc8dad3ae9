import { once } from "node:events";
import { afterAll, describe, expect, it } from "vitest";
import { type Fleet, launchFleet } from "../../src/fleet/launcher.js";
import type { ControlPlane } from "../../src/server/control-plane.js";
import { type Cluster, startCluster } from "../helpers/cluster.js";
import { startInProcessControlPlane } from "../helpers/control-plane.js";

const waitFor = async (cond: () => boolean, timeoutMs: number, what: string) => {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

async function controlPlaneOn(port: number, token: string): Promise<ControlPlane> {
  return (await startInProcessControlPlane({ port, nodeTokens: [token], heartbeatSecs: 0.2 })).cp;
}

describe("agent reconnects when the control plane restarts", () => {
  let cp: ControlPlane | undefined;
  let fleet: Fleet | undefined;
  afterAll(async () => {
    await fleet?.stop();
    await cp?.close();
  });

  it("resumes the node on the new control plane without operator action", async () => {
    const token = "nt-reconnect-test";
    cp = await controlPlaneOn(0, token);
    const port = (cp.app.server.address() as { port: number }).port;
    fleet = await launchFleet({
      serverUrl: `http://127.0.0.1:${port}`,
      nodeToken: token,
      nodes: [{ id: "comeback", profile: "rtx4090", model: "llama-3.1-8b" }],
      timeScale: 20,
      heartbeatSecs: 0.2,
    });
    await waitFor(() => cp?.nodes.get("comeback")?.state === "online", 20_000, "first registration");
    await cp.close();
    cp = await controlPlaneOn(port, token);
    await waitFor(
      () => cp?.nodes.get("comeback")?.state === "online",
      20_000,
      "re-registration after restart",
    );
    expect(fleet.nodes[0]?.agent.exitCode).toBeNull();
  });
});

describe("agent drains on SIGTERM", () => {
  let c: Cluster | undefined;
  afterAll(async () => {
    await c?.stop();
  });

  it("finishes the in-flight stream, takes no new jobs, then exits 0", async () => {
    c = await startCluster({
      nodes: [{ id: "drainer", profile: "rtx4090", model: "llama-3.1-8b" }],
      timeScale: 2,
    });
    const stream = await c.openai.chat.completions.create({
      model: "llama-3.1-8b",
      messages: [{ role: "user", content: "a long answer please" }],
      max_tokens: 120,
      stream: true,
      stream_options: { include_usage: true },
      ignore_eos: true,
    } as never);
    const agent = c.fleet.nodes[0]?.agent;
    if (!agent) throw new Error("no agent");
    const exited = once(agent, "exit");
    let tokens = 0;
    let signalled = false;
    let usage = 0;
    for await (const chunk of stream as unknown as AsyncIterable<{
      choices: { delta: { content?: string } }[];
      usage?: { completion_tokens: number };
    }>) {
      if (chunk.choices[0]?.delta.content) tokens++;
      if (chunk.usage) usage = chunk.usage.completion_tokens;
      if (tokens === 2 && !signalled) {
        signalled = true;
        agent.kill("SIGTERM");
        await waitFor(() => c?.cp.nodes.get("drainer")?.state === "draining", 5_000, "draining state");
        // A draining node takes no new job: the next request finds no node and is refused, not hung.
        const r = await fetch(`${c.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${c.apiKey}` },
          body: JSON.stringify({ model: "llama-3.1-8b", messages: [{ role: "user", content: "x" }] }),
        });
        expect(r.status).toBe(503);
      }
    }
    expect(usage).toBe(120);
    const [code] = await exited;
    expect(code).toBe(0);
    await waitFor(() => c?.cp.nodes.get("drainer")?.state === "offline", 5_000, "offline after drain");
  });
});
