import { afterEach, describe, expect, it } from "vitest";
import { createRocmSmiCollector, ROCM_SMI_ARGS } from "../../../src/agent/collectors/rocm-smi.js";
import type { GpuCollector } from "../../../src/agent/collectors/types.js";
import { FAKE_ROCM_SMI } from "../../helpers/shared-fixtures.js";
import { waitUntil } from "./wait-until.js";

let collector: GpuCollector | undefined;
const savedMode = process.env.FAKE_ROCM_SMI_MODE;

afterEach(async () => {
  await collector?.stop();
  collector = undefined;
  if (savedMode === undefined) delete process.env.FAKE_ROCM_SMI_MODE;
  else process.env.FAKE_ROCM_SMI_MODE = savedMode;
});

describe("rocm-smi collector with the fake rocm-smi as a real child process", () => {
  it("polls and parses the RX 6700 XT capture", async () => {
    collector = createRocmSmiCollector({ path: FAKE_ROCM_SMI, intervalMs: 50 });
    await collector.start();
    const r = collector.latest();
    expect(r.source).toBe("rocm-smi");
    expect(r.note).toBe("");
    expect(r.facts[0]).toMatchObject({
      name: "Navi 22 [Radeon RX 6700/6700 XT / 6800M]",
      driverVersion: "6.3.6",
    });
    expect(r.samples[0]).toMatchObject({ utilizationPercent: 0, vramUsedMib: 1500, powerWatts: 6 });
    expect(ROCM_SMI_ARGS).toContain("--json");
  });

  it("kills a poll that does not answer in time and says so", async () => {
    process.env.FAKE_ROCM_SMI_MODE = "hang";
    const c = createRocmSmiCollector({ path: FAKE_ROCM_SMI, intervalMs: 50, timeoutMs: 300 });
    collector = c;
    await c.start();
    const r = c.latest();
    expect(r.samples).toEqual([]);
    expect(r.ageMs).toBe(Number.POSITIVE_INFINITY);
    expect(r.note).toMatch(/took longer than 300 ms and was killed/);
    expect(c.stats().hangs).toBe(1);
  });

  it("reports output that is not JSON, and an exit, without crashing", async () => {
    process.env.FAKE_ROCM_SMI_MODE = "garbage";
    const c = createRocmSmiCollector({ path: FAKE_ROCM_SMI, intervalMs: 50 });
    collector = c;
    await c.start();
    expect(c.stats().garbageLines).toBeGreaterThanOrEqual(1);
    expect(c.latest().samples).toEqual([]);
    process.env.FAKE_ROCM_SMI_MODE = "exit";
    await waitUntil(() => /exiting as FAKE_ROCM_SMI_MODE=exit asks/.test(c.latest().note));
    process.env.FAKE_ROCM_SMI_MODE = "normal";
    await waitUntil(() => c.latest().samples.length === 1);
    expect(c.latest().note).toBe("");
  });
});
