import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../util/paths.js";

/** The `llmlb` entry script, for spawning real sim and agent processes. */
export const LLMLB_BIN = join(PACKAGE_ROOT, "bin", "llmlb.js");

/** One simulated node: a sim process and an agent process holding a stream to the control plane. */
export interface SimNodeSpec {
  readonly id: string;
  readonly profile: string;
  readonly model: string;
  readonly seed?: number;
  readonly costPerHour?: number;
  readonly maxNumSeqs?: number;
  /** Agent slot cap (0: the engine's own). */
  readonly maxConcurrency?: number;
  readonly instant?: boolean;
  readonly region?: string;
  readonly tier?: string;
}

/** A running simulated node. */
export interface SimNode {
  readonly spec: SimNodeSpec;
  readonly simUrl: string;
  readonly sim: ChildProcess;
  agent: ChildProcess;
}

/** Options for launching a fleet. */
export interface FleetOptions {
  readonly serverUrl: string;
  readonly nodeToken: string;
  readonly nodes: readonly SimNodeSpec[];
  readonly timeScale?: number;
  readonly heartbeatSecs?: number;
  /** Where child output goes: "ignore" (default) or "inherit" for debugging. */
  readonly stdio?: "ignore" | "inherit";
  readonly logLevel?: string;
}

/** Spawns `llmlb <args>` as a child process. */
export function spawnLlmlb(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  stdio: "ignore" | "inherit" | "pipe" = "ignore",
): ChildProcess {
  // LLMLB_CHILD_NODE_ARGS passes node flags to spawned processes (e.g. "--cpu-prof" when profiling a benchmark).
  const nodeArgs = (process.env.LLMLB_CHILD_NODE_ARGS ?? "").split(" ").filter(Boolean);
  return spawn(process.execPath, [...nodeArgs, LLMLB_BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", stdio === "inherit" ? "inherit" : "pipe", stdio === "pipe" ? "pipe" : stdio],
  });
}

/** Starts a sim on an ephemeral port and resolves with its URL (its first stdout line). */
export async function startSimProcess(
  spec: SimNodeSpec,
  timeScale: number,
  stdio: "ignore" | "inherit" = "ignore",
): Promise<{ proc: ChildProcess; url: string }> {
  const args = [
    "sim",
    "--profile",
    spec.profile,
    "--model",
    spec.model,
    "--port",
    "0",
    "--seed",
    String(spec.seed ?? 1),
    "--time-scale",
    String(timeScale),
  ];
  if (spec.maxNumSeqs) args.push("--max-num-seqs", String(spec.maxNumSeqs));
  if (spec.instant) args.push("--instant");
  const proc = spawnLlmlb(args, {}, "pipe");
  if (stdio === "inherit") proc.stderr?.pipe(process.stderr);
  else proc.stderr?.resume();
  const url = await new Promise<string>((resolve, reject) => {
    let buf = "";
    const onData = (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        proc.stdout?.off("data", onData);
        proc.stdout?.resume();
        resolve(buf.slice(0, nl).trim());
      }
    };
    proc.stdout?.on("data", onData);
    proc.once("exit", (code) =>
      reject(new Error(`sim ${spec.id} exited with code ${code} before listening`)),
    );
  });
  return { proc, url };
}

/** Starts an agent for a node whose sim is at simUrl. */
export function startAgentProcess(spec: SimNodeSpec, simUrl: string, o: FleetOptions): ChildProcess {
  const args = [
    "agent",
    "--server",
    o.serverUrl,
    "--engine",
    "sim",
    "--engine-url",
    simUrl,
    "--node-id",
    spec.id,
  ];
  if (spec.maxConcurrency) args.push("--max-concurrency", String(spec.maxConcurrency));
  if (spec.costPerHour !== undefined) args.push("--cost-per-hour", String(spec.costPerHour));
  if (spec.region) args.push("--region", spec.region);
  if (spec.tier) args.push("--tier", spec.tier);
  return spawnLlmlb(
    args,
    {
      LLMLB_NODE_TOKEN: o.nodeToken,
      LLMLB_HEARTBEAT_SECS: String(o.heartbeatSecs ?? 1),
      LLMLB_LOG_LEVEL: o.logLevel ?? "warn",
    },
    o.stdio ?? "ignore",
  );
}

/** A launched fleet; stop() ends every process it started. */
export interface Fleet {
  readonly nodes: SimNode[];
  /** Restarts a node's agent (after a kill), keeping its sim. */
  restartAgent(id: string): ChildProcess;
  stop(): Promise<void>;
}

/** Launches sims then agents for every node spec, all as real processes. */
export async function launchFleet(o: FleetOptions): Promise<Fleet> {
  const nodes: SimNode[] = [];
  const fleet: Fleet = {
    nodes,
    restartAgent(id) {
      const n = nodes.find((x) => x.spec.id === id);
      if (!n) throw new Error(`no node ${id}`);
      n.agent = startAgentProcess(n.spec, n.simUrl, o);
      return n.agent;
    },
    async stop() {
      await Promise.all(nodes.flatMap((n) => [stopProcess(n.agent), stopProcess(n.sim)]));
    },
  };
  try {
    const sims = await Promise.all(
      o.nodes.map((spec) => startSimProcess(spec, o.timeScale ?? 1, o.stdio ?? "ignore")),
    );
    o.nodes.forEach((spec, i) => {
      const s = sims[i];
      if (!s) return;
      nodes.push({ spec, simUrl: s.url, sim: s.proc, agent: startAgentProcess(spec, s.url, o) });
    });
  } catch (err) {
    await fleet.stop();
    throw err;
  }
  return fleet;
}

/** Sends SIGTERM, then SIGKILL after a grace period; resolves when the process is gone. */
export async function stopProcess(p: ChildProcess, graceMs = 5000): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = once(p, "exit");
  p.kill("SIGTERM");
  const t = setTimeout(() => p.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(t);
}
