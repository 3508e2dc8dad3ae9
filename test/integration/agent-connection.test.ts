import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";
import { afterAll, describe, expect, it } from "vitest";
import { spawnLlmlb, startSimProcess, stopProcess } from "../../src/fleet/launcher.js";
import type { ControlPlane } from "../../src/server/control-plane.js";
import { startInProcessControlPlane } from "../helpers/control-plane.js";

// The real agent process dialling a real control plane: over TLS (ALPN h2, the CA given the way an
// operator would, NODE_EXTRA_CA_CERTS), and with a token the control plane refuses.

const TOKEN = "nt-agent-connection";
const API_KEY = "sk-agent-connection";

const waitFor = async (cond: () => boolean, timeoutMs: number, what: string) => {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

function controlPlane(tls?: { cert: string; key: string }): Promise<{ cp: ControlPlane; url: string }> {
  return startInProcessControlPlane({
    nodeTokens: [TOKEN],
    apiKeys: [API_KEY],
    heartbeatSecs: 0.5,
    ...(tls ? { tlsCert: tls.cert, tlsKey: tls.key } : {}),
  });
}

describe("agent connection", () => {
  const dir = mkdtempSync(join(tmpdir(), "llmlb-agent-tls-"));
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
    rmSync(dir, { recursive: true, force: true });
  });

  it("registers and serves over TLS with the operator's CA", async () => {
    const cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    execFileSync(
      "openssl",
      [
        ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"],
        ...["-keyout", key, "-out", cert, "-subj", "/CN=localhost"],
        ...["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
      ],
      { stdio: "ignore" },
    );
    const { cp, url } = await controlPlane({ cert, key });
    cleanups.push(() => cp.close());
    expect(url).toMatch(/^https:/);
    const sim = await startSimProcess({ id: "tls-node", profile: "rtx4090", model: "llama-3.1-8b" }, 20);
    cleanups.push(() => stopProcess(sim.proc));
    const agent = spawnLlmlb(
      ["agent", "--server", url, "--engine", "sim", "--engine-url", sim.url, "--node-id", "tls-node"],
      { LLMLB_NODE_TOKEN: TOKEN, LLMLB_HEARTBEAT_SECS: "0.5", NODE_EXTRA_CA_CERTS: cert },
    );
    cleanups.push(() => stopProcess(agent));
    await waitFor(() => cp.nodes.get("tls-node")?.state === "online", 20_000, "registration over TLS");

    const dispatcher = new Agent({ connect: { ca: readFileSync(cert) } });
    cleanups.push(() => dispatcher.close());
    const res = await request(`${url}/v1/chat/completions`, {
      method: "POST",
      dispatcher,
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({
        model: "llama-3.1-8b",
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 3,
      }),
    });
    const body = (await res.body.json()) as { choices: { message: { content: string } }[] };
    expect(res.statusCode).toBe(200);
    expect(res.headers["x-llmlb-node"]).toBe("tls-node");
    expect(body.choices[0]?.message.content.length).toBeGreaterThan(0);
  });

  it("says so when the control plane refuses its token, and keeps retrying", async () => {
    const { cp, url } = await controlPlane();
    cleanups.push(() => cp.close());
    const sim = await startSimProcess({ id: "bad-token", profile: "rtx4090", model: "llama-3.1-8b" }, 20);
    cleanups.push(() => stopProcess(sim.proc));
    const agent = spawnLlmlb(
      ["agent", "--server", url, "--engine", "sim", "--engine-url", sim.url, "--node-id", "bad-token"],
      { LLMLB_NODE_TOKEN: "nt-not-this-one", LLMLB_LOG_LEVEL: "warn" },
      "pipe",
    );
    cleanups.push(() => stopProcess(agent));
    let logs = "";
    agent.stdout?.on("data", (d: Buffer) => {
      logs += d.toString();
    });
    agent.stderr?.resume();
    await waitFor(() => (logs.match(/refused the node token/g) ?? []).length >= 2, 20_000, "two refusals");
    expect(logs).toContain('"code":"UNAUTHENTICATED"');
    expect(logs).not.toContain("nt-not-this-one"); // the token is a secret: never logged
    expect(agent.exitCode).toBeNull();
    expect(cp.nodes.get("bad-token")).toBeUndefined();
  });
});
