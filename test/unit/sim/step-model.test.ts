import { describe, expect, it } from "vitest";
import {
  computeCapacity,
  decodeTokensPerSecond,
  defaultMaxNumBatchedTokens,
  GPU_PROFILES,
  getGpuProfile,
  getModelProfile,
  MODEL_PROFILES,
  STEP_MODEL,
  startSim,
  stepTime,
} from "../../../src/sim/index.js";
import { decodeWork, prefillWork } from "../../../src/sim/step-model.js";

const h100 = getGpuProfile("h100");
const rtx3080 = getGpuProfile("rtx3080");
const rtx4090 = getGpuProfile("rtx4090");
const llama1b = getModelProfile("llama-3.2-1b");
const llama8b = getModelProfile("llama-3.1-8b");

describe("profiles", () => {
  it("lists every required GPU and model", () => {
    expect(Object.keys(GPU_PROFILES).sort()).toEqual([
      "a100-80g",
      "h100",
      "l4",
      "rtx3080",
      "rtx3090",
      "rtx4090",
    ]);
    expect(Object.keys(MODEL_PROFILES).sort()).toEqual(["llama-3.1-8b", "llama-3.2-1b"]);
  });

  it("uses nvidia-smi names", () => {
    expect(rtx4090.name).toBe("NVIDIA GeForce RTX 4090");
    expect(h100.name).toBe("NVIDIA H100 80GB HBM3");
    expect(rtx4090.computeCapability).toBe("8.9");
  });

  it("rejects an unknown name with the list of valid ones", () => {
    expect(() => getGpuProfile("gtx480")).toThrow(/valid: .*rtx4090.*h100/);
    expect(() => getModelProfile("gpt-5")).toThrow(/valid: llama-3.2-1b, llama-3.1-8b/);
  });
});

describe("capacity", () => {
  it("throws when the model does not fit the GPU", () => {
    expect(() => computeCapacity(rtx3080, llama8b)).toThrow(/does not fit on rtx3080/);
  });

  it("rejects a model that does not fit at startSim", async () => {
    await expect(startSim({ profile: "rtx3080", model: "llama-3.1-8b" })).rejects.toThrow(/does not fit/);
  });

  it.each(Object.keys(GPU_PROFILES))("gives %s whole KV blocks from 0.9 of VRAM minus weights", (key) => {
    const gpu = getGpuProfile(key);
    const c = computeCapacity(gpu, llama1b);
    expect(c.kvTokens).toBe(c.kvBlocks * STEP_MODEL.blockSize);
    expect(c.vramUsedMib / gpu.vramMib).toBeCloseTo(0.9, 2);
    expect(c.weightsMib + c.kvPoolMib + STEP_MODEL.runtimeReserveMib).toBeLessThanOrEqual(c.vramUsedMib + 1);
    expect(c.maxModelLen).toBeLessThanOrEqual(Math.min(llama1b.maxContext, c.kvTokens));
  });

  it("holds tens of thousands of 8B tokens on a 24 GB card and hundreds of thousands on an H100", () => {
    const small = computeCapacity(rtx4090, llama8b);
    const big = computeCapacity(h100, llama8b);
    expect(small.kvTokens).toBeGreaterThan(20_000);
    expect(small.kvTokens).toBeLessThan(80_000);
    expect(small.maxModelLen).toBe(small.kvTokens); // capped by the KV cache, as vLLM would insist
    expect(big.kvTokens).toBeGreaterThan(300_000);
    expect(big.maxModelLen).toBe(llama8b.maxContext);
  });
});

describe("step time", () => {
  it("decodes faster on an H100 than on an RTX 3080", () => {
    for (const batch of [1, 32]) {
      expect(decodeTokensPerSecond(h100, llama1b, batch, 512)).toBeGreaterThan(
        2 * decodeTokensPerSecond(rtx3080, llama1b, batch, 512),
      );
    }
  });

  it("makes decode memory-bound and batching nearly free", () => {
    const one = stepTime(h100, llama8b, decodeWork(1, 512));
    expect(one.memorySeconds).toBeGreaterThan(one.computeSeconds);
    const tps1 = decodeTokensPerSecond(h100, llama8b, 1, 512);
    const tps32 = decodeTokensPerSecond(h100, llama8b, 32, 512);
    expect(tps1).toBeGreaterThan(80);
    expect(tps1).toBeLessThan(250);
    expect(tps32).toBeGreaterThan(20 * tps1);
  });

  it("makes a long prefill compute-bound", () => {
    const t = stepTime(h100, llama8b, prefillWork(2048));
    expect(t.computeSeconds).toBeGreaterThan(t.memorySeconds);
    // 2 × params × tokens at the stated efficiency is a floor for the compute term.
    const floor = (2 * llama8b.params * 2048) / (h100.bf16Tflops * 1e12 * STEP_MODEL.computeEfficiency);
    expect(t.computeSeconds).toBeGreaterThanOrEqual(floor);
    expect(t.seconds).toBeCloseTo(
      Math.max(t.computeSeconds, t.memorySeconds) + STEP_MODEL.stepOverheadSeconds,
      9,
    );
  });

  it("uses vLLM's default token budget: 8192 on an H100, 2048 on smaller cards and the A100", () => {
    expect(defaultMaxNumBatchedTokens(h100)).toBe(8192);
    expect(defaultMaxNumBatchedTokens(getGpuProfile("a100-80g"))).toBe(2048);
    expect(defaultMaxNumBatchedTokens(rtx4090)).toBe(2048);
  });

  it("makes a cached prefix cheaper than a fresh one", () => {
    const fresh = stepTime(rtx4090, llama8b, prefillWork(4096));
    const tail = stepTime(rtx4090, llama8b, prefillWork(96, 4000));
    expect(tail.seconds).toBeLessThan(fresh.seconds / 10);
  });
});
