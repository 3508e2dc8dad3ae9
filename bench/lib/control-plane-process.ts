import type { ChildProcess } from "node:child_process";
import { spawnLlmlb, stopProcess } from "../../src/fleet/launcher.js";

/** A control plane running as its own process (as in production), for benchmarks and e2e tests. */
export interface ControlPlaneProcess {
  readonly url: string;
  readonly proc: ChildProcess;
  stop(): Promise<void>;
  /** Resolves once `n` nodes are online (polls /readyz). */
  waitForNodes(n: number, timeoutMs?: number): Promise<void>;
}

/** Starts `llmlb serve --port 0` and reads its URL from the "listening" log line (so the log level is info). */
export async function startControlPlaneProcess(
  env: Record<string, string>,
  args: string[] = [],
): Promise<ControlPlaneProcess> {
  const proc = spawnLlmlb(
    ["serve", "--port", "0", "--host", "127.0.0.1", ...args],
    { ...env, LLMLB_LOG_LEVEL: "info" },
    "pipe",
  );
  proc.stderr?.resume();
  const url = await new Promise<string>((resolve, reject) => {
    let buf = "";
    const onData = (d: Buffer) => {
      buf += d.toString();
      for (const line of buf.split("\n")) {
        if (!line.includes("listening")) continue;
        try {
          const j = JSON.parse(line) as { url?: string };
          if (j.url) {
            proc.stdout?.off("data", onData);
            proc.stdout?.resume();
            return resolve(j.url);
          }
        } catch {
          /* not JSON yet */
        }
      }
    };
    proc.stdout?.on("data", onData);
    proc.once("exit", (code) =>
      reject(new Error(`control plane exited with code ${code}: ${buf.slice(-2000)}`)),
    );
    setTimeout(
      () => reject(new Error(`control plane did not report its URL in 30 s: ${buf.slice(-2000)}`)),
      30_000,
    ).unref();
  });
  return {
    url,
    proc,
    stop: () => stopProcess(proc),
    async waitForNodes(n, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const r = await fetch(`${url}/readyz`)
          .then((x) => x.json() as Promise<{ nodes_online: number }>)
          .catch(() => undefined);
        if (r && r.nodes_online >= n) return;
        await new Promise((res) => setTimeout(res, 100));
      }
      throw new Error(`fewer than ${n} nodes online after ${timeoutMs} ms`);
    },
  };
}
