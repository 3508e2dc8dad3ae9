import { describe, expect, it } from "vitest";
import { parseRocmSmiJson } from "../../../src/agent/collectors/rocm-smi-parse.js";
import { readFixture } from "../../helpers/shared-fixtures.js";

const RX6700 = readFixture("gpu/amd/rocm-smi-rx6700xt-rocm612.json");

describe("rocm-smi JSON (fixtures/gpu/amd)", () => {
  it("parses the RX 6700 XT capture", () => {
    const { facts, samples } = parseRocmSmiJson(RX6700);
    expect(facts).toEqual([
      {
        index: 0,
        uuid: "", // "Unique ID": "N/A"
        name: "Navi 22 [Radeon RX 6700/6700 XT / 6800M]",
        vramTotalMib: 12272, // 12868124672 B
        computeCapability: "gfx1031",
        driverVersion: "6.3.6",
      },
    ]);
    expect(samples).toEqual([
      {
        index: 0,
        utilizationPercent: 0,
        vramUsedMib: 1500, // 1572745216 B
        vramTotalMib: 12272,
        temperatureCelsius: 45,
        powerWatts: 6,
      },
    ]);
  });

  it("skips text printed before the JSON", () => {
    const { samples } = parseRocmSmiJson(`Exception caught: map::at\n${RX6700}`);
    expect(samples[0]?.temperatureCelsius).toBe(45);
  });

  it("matches keys case-insensitively and takes VRAM% when byte counts are missing", () => {
    // The MI100 / ROCm 6.0.2 spelling noted in NOTES.md: lower-case "series", "GPU memory use (%)".
    const doc = JSON.parse(RX6700) as { card0: Record<string, string> };
    const card = doc.card0;
    card["Card series"] = card["Card Series"] ?? "";
    delete card["Card Series"];
    card["GPU memory use (%)"] = card["GPU Memory Allocated (VRAM%)"] ?? "";
    delete card["GPU Memory Allocated (VRAM%)"];
    delete card["VRAM Total Used Memory (B)"];
    const { facts, samples } = parseRocmSmiJson(JSON.stringify(doc));
    expect(facts[0]?.name).toBe("Navi 22 [Radeon RX 6700/6700 XT / 6800M]");
    expect(samples[0]?.vramUsedMib).toBe(Math.round(0.12 * 12272));
  });

  it("throws on output without JSON (the collector turns it into a note)", () => {
    expect(() => parseRocmSmiJson("ERROR: no GPU")).toThrow(/no JSON/);
  });
});
