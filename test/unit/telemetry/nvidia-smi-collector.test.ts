import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createGpuCollector } from "../../../src/agent/collectors/gpu-collector.js";
import type { GpuCollector } from "../../../src/agent/collectors/types.js";
import { FAKE_NVIDIA_SMI, FAKE_ROCM_SMI } from "../../helpers/shared-fixtures.js";
import { waitUntil } from "./wait-until.js";

const H100_UUID = "GPU-a637c4b9-4baa-c4fa-9226-99fc4499a9e7";
const ENV_KEYS = [
  "FAKE_NVIDIA_SMI_SCENARIO",
  "FAKE_NVIDIA_SMI_MODE",
  "FAKE_NVIDIA_SMI_FAULT_AFTER",
  "FAKE_NVIDIA_SMI_REJECT_FIELDS",
  "FAKE_NVIDIA_SMI_LOG",
  "PATH",
];

let saved: Record<string, string | undefined> = {};
let collector: GpuCollector | undefined;
let dir = "";
let logFile = "";

/** Invocations of the fake recorded in its log: one JSON line each. */
function invocations(): { pid: number; args: string[] }[] {
  try {
    return readFileSync(logFile, "utf8")
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { pid: number; args: string[] });
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A collector on the fake. Unless a test is about hangs, silence must last 40 intervals (2 s) to
 * count as one, so a busy CI machine that stalls the fake for a moment does not trigger a restart.
 */
function nvidia(extra: { hangAfterIntervals?: number; nvidiaSmiPath?: string } = {}): GpuCollector {
  collector = createGpuCollector({
    kind: "nvidia",
    intervalMs: 50,
    nvidiaSmiPath: FAKE_NVIDIA_SMI,
    hangAfterIntervals: 40,
    ...extra,
  });
  return collector;
}

beforeEach(() => {
  saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  dir = mkdtempSync(join(tmpdir(), "llmlb-nvsmi-"));
  logFile = join(dir, "invocations.jsonl");
  writeFileSync(logFile, "");
  process.env.FAKE_NVIDIA_SMI_LOG = logFile;
});

afterEach(async () => {
  await collector?.stop();
  collector = undefined;
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe("nvidia-smi collector with the fake nvidia-smi as a real child process", () => {
  it("reads the idle H100 capture and leaves no process behind on stop()", async () => {
    const c = nvidia();
    await c.start();
    const r = c.latest();
    expect(r.source).toBe("nvidia-smi");
    expect(r.note).toBe("");
    expect(r.facts).toEqual([
      {
        index: 0,
        uuid: H100_UUID,
        name: "NVIDIA H100 80GB HBM3",
        vramTotalMib: 81559,
        computeCapability: "9.0",
        driverVersion: "580.159.04",
      },
    ]);
    expect(r.samples).toEqual([
      {
        index: 0,
        utilizationPercent: 0,
        vramUsedMib: 0,
        vramTotalMib: 81559,
        temperatureCelsius: 39,
        powerWatts: 113.79,
      },
    ]);
    expect(Number.isFinite(r.ageMs)).toBe(true);
    const pids = invocations().map((i) => i.pid);
    expect(pids).toHaveLength(1);
    await c.stop();
    expect(pids.filter(alive)).toEqual([]);
  });

  it("keeps ONE long-lived process in loop mode and follows the heavy loop capture", async () => {
    process.env.FAKE_NVIDIA_SMI_SCENARIO = "heavy";
    const c = nvidia();
    await c.start();
    const seen = new Set<number>();
    await waitUntil(() => {
      const power = c.latest().samples[0]?.powerWatts;
      if (power !== undefined) seen.add(power);
      return seen.size >= 4;
    });
    // Every value comes from the real 500 ms loop capture (nvsmi-loop-heavy.csv).
    for (const p of seen) expect([694.93, 698.71, 697.01, 698.14, 695.83, 696.35]).toContain(p);
    expect(c.latest().samples[0]?.utilizationPercent).toBe(99);
    const calls = invocations();
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args).toEqual([
      "--query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu,temperature.gpu,power.draw,compute_cap,driver_version,mig.mode.current",
      "--format=csv,noheader,nounits",
      "-lms",
      "50",
    ]);
  });

  it("treats silence as a hang: readings go stale, the process is killed, restarted and reported", async () => {
    process.env.FAKE_NVIDIA_SMI_MODE = "hang";
    process.env.FAKE_NVIDIA_SMI_FAULT_AFTER = "2";
    const c = nvidia({ hangAfterIntervals: 4 });
    await c.start();
    expect(c.latest().samples).toHaveLength(1);
    // While hung (and until the new process prints), the old figures are withheld, facts kept.
    const stale = await waitUntil(() => {
      const r = c.latest();
      return r.samples.length === 0 && r.facts.length === 1 ? r : undefined;
    });
    expect(stale.note).toMatch(/stale/);
    await waitUntil(() => (c.stats?.().hangs ?? 0) >= 1 && invocations().length >= 2);
    const first = invocations()[0]?.pid ?? 0;
    // The fake ignores SIGTERM while hung, as a process stuck in the driver does: SIGKILL ends it.
    await waitUntil(() => !alive(first));
    await waitUntil(() => c.latest().samples.length === 1);
    expect(c.latest().note).toMatch(/hang\(s\)/);
    expect(c.stats?.().lastError).toMatch(/printed nothing/);
  });

  it("counts garbage lines and keeps reading", async () => {
    process.env.FAKE_NVIDIA_SMI_MODE = "garbage";
    const c = nvidia();
    await c.start();
    await waitUntil(() => (c.stats?.().garbageLines ?? 0) >= 3);
    const r = c.latest();
    expect(r.samples).toHaveLength(1);
    expect(r.samples[0]?.temperatureCelsius).toBe(39);
    expect(r.note).toMatch(/garbage line\(s\) ignored/);
    expect(invocations()).toHaveLength(1);
  });

  it("restarts a process that exits, with backoff, and reports it", async () => {
    process.env.FAKE_NVIDIA_SMI_MODE = "exit";
    process.env.FAKE_NVIDIA_SMI_FAULT_AFTER = "2";
    const c = nvidia();
    await c.start();
    await waitUntil(() => (c.stats?.().restarts ?? 0) >= 2 && invocations().length >= 3);
    expect(c.stats?.().lastError).toMatch(/exited with code 1: fake nvidia-smi: exiting/);
    expect(c.latest().note).toMatch(/restart\(s\)/);
    await waitUntil(() => c.latest().samples.length === 1);
    await c.stop();
    expect(
      invocations()
        .map((i) => i.pid)
        .filter(alive),
    ).toEqual([]);
  });

  it("drops fields an older driver rejects and queries again without them", async () => {
    process.env.FAKE_NVIDIA_SMI_REJECT_FIELDS = "compute_cap,mig.mode.current";
    const c = nvidia();
    await c.start();
    await waitUntil(() => c.latest().samples.length === 1);
    expect(c.stats?.().droppedFields).toEqual(["compute_cap", "mig.mode.current"]);
    expect(c.latest().facts[0]?.computeCapability).toBe("");
    expect(c.latest().facts[0]?.vramTotalMib).toBe(81559);
    expect(invocations().at(-1)?.args[0]).toBe(
      "--query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu,temperature.gpu,power.draw,driver_version",
    );
  });
});

describe("GPU tool discovery", () => {
  it("a configured path that does not exist gives source none with a note", async () => {
    const c = nvidia({ nvidiaSmiPath: join(dir, "missing", "nvidia-smi") });
    await c.start();
    const r = c.latest();
    expect(r).toMatchObject({ source: "none", facts: [], samples: [], ageMs: Number.POSITIVE_INFINITY });
    expect(r.note).toBe(`nvidia-smi not found at ${join(dir, "missing", "nvidia-smi")}`);
  });

  it("nvidia-smi missing from PATH gives source none, and auto finds no tool at all", async () => {
    process.env.PATH = dir;
    collector = createGpuCollector({ kind: "nvidia", intervalMs: 50 });
    await collector.start();
    expect(collector.latest()).toMatchObject({ source: "none", note: "nvidia-smi not found on PATH" });
    await collector.stop();
    collector = createGpuCollector({ kind: "auto", intervalMs: 50 });
    await collector.start();
    expect(collector.latest().source).toBe("none");
    expect(collector.latest().note).toBe(
      "no GPU tool found: nvidia-smi not found on PATH, rocm-smi not found on PATH",
    );
  });

  it("auto finds nvidia-smi first on PATH", async () => {
    const bin = join(dir, "bin");
    mkdirSync(bin);
    symlinkSync(FAKE_NVIDIA_SMI, join(bin, "nvidia-smi"));
    symlinkSync(FAKE_ROCM_SMI, join(bin, "rocm-smi"));
    process.env.PATH = `${bin}${delimiter}${saved.PATH ?? ""}`;
    collector = createGpuCollector({ kind: "auto", intervalMs: 50, hangAfterIntervals: 40 });
    await collector.start();
    expect(collector.latest().source).toBe("nvidia-smi");
    expect(collector.latest().facts[0]?.uuid).toBe(H100_UUID);
  });

  it("auto falls back to rocm-smi when only it is on PATH", async () => {
    const bin = join(dir, "bin");
    mkdirSync(bin);
    symlinkSync(FAKE_ROCM_SMI, join(bin, "rocm-smi"));
    process.env.PATH = `${bin}${delimiter}${saved.PATH ?? ""}`;
    collector = createGpuCollector({ kind: "auto", intervalMs: 50 });
    await collector.start();
    const r = collector.latest();
    expect(r.source).toBe("rocm-smi");
    expect(r.facts[0]?.computeCapability).toBe("gfx1031");
    expect(r.samples[0]?.temperatureCelsius).toBe(45);
  });

  it("kind none reports no figures without looking for tools", async () => {
    collector = createGpuCollector({ kind: "none", intervalMs: 50 });
    await collector.start();
    expect(collector.latest()).toMatchObject({ source: "none", samples: [], facts: [] });
  });
});
