import { describe, expect, it } from "vitest";
import {
  NVIDIA_QUERY_FIELDS,
  nvidiaNumber,
  nvidiaText,
  parseNvidiaCsv,
  parseNvidiaCsvWithHeader,
  parseNvidiaRow,
  rejectedNvidiaField,
} from "../../../src/agent/collectors/nvidia-smi-parse.js";
import { readFixture } from "../../helpers/shared-fixtures.js";

/** The field list of the H100 `nvsmi-query*.csv` captures (PROVENANCE.md). */
const H100_QUERY = [
  "index",
  "uuid",
  "name",
  "pci.bus_id",
  "driver_version",
  "memory.total",
  "memory.used",
  "memory.free",
  "utilization.gpu",
  "utilization.memory",
  "temperature.gpu",
  "power.draw",
  "power.limit",
  "clocks.sm",
  "clocks.mem",
  "fan.speed",
  "pstate",
  "compute_cap",
];
const H100_UUID = "GPU-a637c4b9-4baa-c4fa-9226-99fc4499a9e7";

/** The lines of one section of an nvidia_gpu_exporter capture (between its #### banners). */
function captureSection(text: string, title: string): string {
  const lines = text.split("\n");
  let i = lines.indexOf(`# ${title}`);
  if (i < 0) throw new Error(`no section ${title}`);
  while (!lines[i]?.startsWith("####")) i += 1;
  i += 1;
  const out: string[] = [];
  while (i < lines.length && !lines[i]?.startsWith("####")) out.push(lines[i++] ?? "");
  return out.join("\n").trim();
}

describe("nvidia-smi values", () => {
  it.each([
    ["[N/A]", undefined],
    ["[Not Supported]", undefined],
    ["[Unknown Error]", undefined],
    ["[Requested functionality has been deprecated]", undefined],
    ["N/A", undefined],
    ["", undefined],
    [" 81559 MiB", 81559],
    ["99 %", 99],
    ["693.84 W", 693.84],
    ["0", 0],
    ["P0", undefined],
  ])("nvidiaNumber(%j) is %j", (raw, want) => {
    expect(nvidiaNumber(raw)).toBe(want);
  });

  it("keeps text values and drops bracketed unknowns", () => {
    expect(nvidiaText(" NVIDIA H100 80GB HBM3")).toBe("NVIDIA H100 80GB HBM3");
    expect(nvidiaText("[N/A]")).toBeUndefined();
  });
});

describe("H100 captures (fixtures/gpu/nvidia-h100)", () => {
  it.each([
    ["idle", { vramUsedMib: 0, utilizationPercent: 0, temperatureCelsius: 39, powerWatts: 113.79 }],
    ["light", { vramUsedMib: 69893, utilizationPercent: 5, temperatureCelsius: 40, powerWatts: 141.73 }],
    ["heavy", { vramUsedMib: 70057, utilizationPercent: 99, temperatureCelsius: 62, powerWatts: 693.65 }],
  ])("parses nvsmi-query-nounits-%s.csv", (state, want) => {
    const { rows, garbage } = parseNvidiaCsv(
      readFixture(`gpu/nvidia-h100/nvsmi-query-nounits-${state}.csv`),
      H100_QUERY,
    );
    expect(garbage).toBe(0);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.facts).toEqual({
      index: 0,
      uuid: H100_UUID,
      name: "NVIDIA H100 80GB HBM3",
      vramTotalMib: 81559,
      computeCapability: "9.0",
      driverVersion: "580.159.04",
    });
    expect(rows[0]?.live).toEqual({ index: 0, vramTotalMib: 81559, ...want });
  });

  it.each([
    ["idle", { vramUsedMib: 0, utilizationPercent: 0, powerWatts: 115.83 }],
    ["light", { vramUsedMib: 69893, utilizationPercent: 5, powerWatts: 141.95 }],
    ["heavy", { vramUsedMib: 70057, utilizationPercent: 99, powerWatts: 693.84 }],
  ])("parses nvsmi-query-%s.csv (header and units)", (state, want) => {
    const { rows, garbage } = parseNvidiaCsvWithHeader(
      readFixture(`gpu/nvidia-h100/nvsmi-query-${state}.csv`),
    );
    expect(garbage).toBe(0);
    expect(rows[0]?.live).toMatchObject(want);
    expect(rows[0]?.facts.computeCapability).toBe("9.0");
  });

  it("parses the real loop capture: one row per tick, live columns only", () => {
    const loopFields = ["index", "utilization.gpu", "memory.used", "temperature.gpu", "power.draw"];
    const { rows, garbage } = parseNvidiaCsv(readFixture("gpu/nvidia-h100/nvsmi-loop-heavy.csv"), loopFields);
    expect(garbage).toBe(0);
    expect(rows.map((r) => r.live.temperatureCelsius)).toEqual([62, 63, 62, 63, 63, 64]);
    expect(rows.map((r) => r.live.powerWatts)).toEqual([694.93, 698.71, 697.01, 698.14, 695.83, 696.35]);
    expect(rows.every((r) => r.live.utilizationPercent === 99 && r.live.vramUsedMib === 70057)).toBe(true);
    // Fields not queried are unknown: no total, no uuid.
    expect(rows[0]?.live.vramTotalMib).toBeUndefined();
    expect(rows[0]?.facts.uuid).toBe("");
  });

  it("fan.speed [N/A] on the H100 is unknown, not 0", () => {
    const row = parseNvidiaRow(["index", "fan.speed"], "0, [N/A]");
    expect(row?.live).toEqual({ index: 0 });
  });
});

describe("consumer captures (fixtures/gpu/nvidia-consumer)", () => {
  it.each([
    [
      "rtx-4080-super__595.71.05__idle__query-gpu-all-fields.csv",
      { vramUsedMib: 596, utilizationPercent: 0, temperatureCelsius: 43, powerWatts: 26.2 },
    ],
    [
      "rtx-4080-super__595.71.05__load__query-gpu-all-fields.csv",
      { vramUsedMib: 1474, utilizationPercent: 7, temperatureCelsius: 46, powerWatts: 84.24 },
    ],
  ])("parses %s (202 columns with [N/A] and deprecated markers)", (file, want) => {
    const { rows, garbage } = parseNvidiaCsvWithHeader(readFixture(`gpu/nvidia-consumer/${file}`));
    expect(garbage).toBe(0);
    expect(rows[0]?.facts).toEqual({
      index: 0,
      uuid: "GPU-00000000-0000-0000-0000-000000000000",
      name: "NVIDIA GeForce RTX 4080 SUPER",
      vramTotalMib: 16376,
      computeCapability: "8.9",
      driverVersion: "595.71.05",
    });
    expect(rows[0]?.live).toEqual({ index: 0, vramTotalMib: 16376, ...want });
    // mig.mode.current is [N/A] on a consumer card: unknown.
    expect(rows[0]?.migEnabled).toBeUndefined();
  });

  it.each([
    [
      "linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04.capture.txt",
      "idle",
      "610.57.04",
      { vramUsedMib: 211, powerWatts: 39.17, temperatureCelsius: 33 },
    ],
    [
      "linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04.capture.txt",
      "load",
      "610.57.04",
      { vramUsedMib: 815, powerWatts: 98.14, utilizationPercent: 8 },
    ],
    [
      "windows-x86_64__nvidia-geforce-rtx-2080-super__591.86.capture.txt",
      "idle",
      "591.86",
      { vramUsedMib: 702, powerWatts: 38.92 },
    ],
    [
      "windows-x86_64__nvidia-geforce-rtx-2080-super__591.86.capture.txt",
      "load",
      "591.86",
      { vramUsedMib: 1296, powerWatts: 97.43, utilizationPercent: 7 },
    ],
    [
      "linux-x86_64__nvidia-geforce-rtx-4080-super__595.71.05.capture.txt",
      "load",
      "595.71.05",
      { vramUsedMib: 1474, powerWatts: 84.24 },
    ],
  ])("parses the query-gpu section of %s (%s)", (file, state, driver, want) => {
    const text = captureSection(
      readFixture(`gpu/nvidia-consumer/${file}`),
      `${state} :: query-gpu (csv, what the exporter parses)`,
    );
    const { rows, garbage } = parseNvidiaCsvWithHeader(text);
    expect(garbage).toBe(0);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.facts.driverVersion).toBe(driver);
    expect(rows[0]?.live).toMatchObject(want);
  });
});

describe("loop output", () => {
  const h100Idle = readFixture("gpu/nvidia-h100/nvsmi-query-nounits-idle.csv").trim();
  const h100Heavy = readFixture("gpu/nvidia-h100/nvsmi-query-nounits-heavy.csv").trim();

  it("reads several GPUs per tick (one line each) and keeps them apart by index", () => {
    // A two-GPU tick built from two real rows; the second is renumbered as nvidia-smi would print GPU 1.
    const tick = `${h100Idle}\n${h100Heavy.replace(/^0,/, "1,")}\n`;
    const { rows } = parseNvidiaCsv(tick, H100_QUERY);
    expect(rows.map((r) => [r.facts.index, r.live.utilizationPercent])).toEqual([
      [0, 0],
      [1, 99],
    ]);
  });

  it("counts garbage lines and keeps the good ones", () => {
    const text = [
      h100Idle,
      "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
      "0, GPU-a637c4b9",
      "x, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q",
      "",
      h100Heavy,
    ].join("\n");
    const { rows, garbage } = parseNvidiaCsv(text, H100_QUERY);
    expect(rows).toHaveLength(2);
    expect(garbage).toBe(3);
  });

  it("a MIG-enabled GPU reports utilization [N/A]: unknown, with MIG flagged", () => {
    const row = parseNvidiaRow(
      NVIDIA_QUERY_FIELDS,
      `0, ${H100_UUID}, NVIDIA H100 80GB HBM3, 81559, 70057, [N/A], 62, 693.65, 9.0, 580.159.04, Enabled`,
    );
    expect(row?.migEnabled).toBe(true);
    expect(row?.live.utilizationPercent).toBeUndefined();
    expect(row?.live.vramUsedMib).toBe(70057);
  });

  it("[Not Supported] power is unknown", () => {
    const row = parseNvidiaRow(
      NVIDIA_QUERY_FIELDS,
      "0, GPU-x, NVIDIA GeForce GTX 780, 3072, 200, 3, 40, [Not Supported], 3.5, 470.182.03, [N/A]",
    );
    expect(row?.live).toEqual({
      index: 0,
      vramTotalMib: 3072,
      vramUsedMib: 200,
      utilizationPercent: 3,
      temperatureCelsius: 40,
    });
  });

  it("recognises the message old drivers print for an unknown field", () => {
    expect(rejectedNvidiaField('Field "compute_cap" is not a valid field to query.')).toBe("compute_cap");
    expect(rejectedNvidiaField("0, 99, 70057, 62, 694.93")).toBeUndefined();
  });
});
