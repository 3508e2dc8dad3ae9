import { afterEach, describe, expect, it } from "vitest";
import { createEngineAdapter } from "../../../src/agent/engines/registry.js";
import { type RunningSim, startSim } from "../../../src/sim/index.js";

let sim: RunningSim | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe("sim adapter against the real simulator", () => {
  it("reads version, models, vLLM metrics, max_num_seqs and the simulated GPU", async () => {
    sim = await startSim({ profile: "rtx4090", model: "llama-3.1-8b", maxNumSeqs: 48 });
    const a = createEngineAdapter("sim", sim.url);
    expect(await a.version()).not.toBe("");
    const models = await a.listModels();
    expect(models.map((m) => m.id)).toEqual(["llama-3.1-8b"]);
    expect(models[0]?.maxContextTokens).toBe(sim.capacity.maxModelLen);
    expect(await a.probe()).toMatchObject({
      healthy: true,
      note: "",
      runningRequests: 0,
      waitingRequests: 0,
      kvCacheUsage: 0,
    });
    expect(await a.maxConcurrency?.()).toBe(48);
    const g = await a.gpuReading?.();
    expect(g?.source).toBe("simulated");
    expect(g?.facts[0]).toMatchObject({ name: "NVIDIA GeForce RTX 4090", computeCapability: "8.9" });
    expect(g?.samples[0]?.vramTotalMib).toBe(g?.facts[0]?.vramTotalMib);
  });
});
