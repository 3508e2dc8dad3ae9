import { describe, expect, it } from "vitest";
import { createHostCollector } from "../../../src/agent/collectors/host.js";
import { waitUntil } from "./wait-until.js";

describe("host collector", () => {
  it("reports memory at once and CPU once the cores' times have moved", async () => {
    const host = createHostCollector();
    const first = host.sample();
    expect(first.memoryPercent).toBeGreaterThan(0);
    expect(first.memoryPercent).toBeLessThanOrEqual(100);
    // Burn a little CPU so the cumulative times advance past the baseline.
    const cpu = await waitUntil(() => {
      const end = Date.now() + 20;
      while (Date.now() < end) Math.sqrt(Math.random());
      return host.sample().cpuPercent;
    });
    expect(cpu).toBeGreaterThanOrEqual(0);
    expect(cpu).toBeLessThanOrEqual(100);
  });
});
