import type { GpuFacts, GpuLive } from "../../nodes/types.js";
import { withoutUndefined } from "./without-undefined.js";

/**
 * Fields the agent asks nvidia-smi for, in this order. Every one is in the H100 capture
 * (fixtures/gpu/nvidia-h100) except mig.mode.current, which that GPU reports in `-q` as "Disabled"
 * and consumer cards report as [N/A]. utilization.gpu is [N/A] on a MIG-enabled GPU.
 */
export const NVIDIA_QUERY_FIELDS = [
  "index",
  "uuid",
  "name",
  "memory.total",
  "memory.used",
  "utilization.gpu",
  "temperature.gpu",
  "power.draw",
  "compute_cap",
  "driver_version",
  "mig.mode.current",
] as const;

/** Fields without which a row is useless; the others may be dropped for drivers that reject them. */
export const NVIDIA_REQUIRED_FIELDS: readonly string[] = ["index", "memory.total", "memory.used"];

/** One parsed nvidia-smi row: static facts, live figures and the MIG mode (undefined when unknown). */
export interface NvidiaRow {
  facts: GpuFacts;
  live: GpuLive;
  migEnabled: boolean | undefined;
}

/**
 * A value or undefined. nvidia-smi writes unknown values in brackets: "[N/A]", "[Not Supported]",
 * "[Unknown Error]", "[Requested functionality has been deprecated]", "[Insufficient Permissions]";
 * some older drivers write a bare "N/A". All of them mean "unknown", never 0.
 */
export function nvidiaText(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const value = raw.trim();
  if (value === "" || value === "N/A" || (value.startsWith("[") && value.endsWith("]"))) return undefined;
  return value;
}

/** A number from a field, with or without the unit suffix ("81559 MiB", "99 %", "693.84 W"). */
export function nvidiaNumber(raw: string | undefined): number | undefined {
  const value = nvidiaText(raw);
  if (value === undefined) return undefined;
  const match = /^(-?\d+(?:\.\d+)?)(?:\s*(?:MiB|%|W|C|MHz))?$/.exec(value);
  if (match?.[1] === undefined) return undefined;
  const n = Number(match[1]);
  return Number.isFinite(n) ? n : undefined;
}

/** Header name → query field name: "memory.total [MiB]" → "memory.total". */
export function nvidiaFieldFromHeader(header: string): string {
  return header.replace(/\s*\[[^\]]*\]\s*$/, "").trim();
}

/**
 * Parses one CSV line whose columns are `fields` (the query order). Returns undefined for a line
 * that is not a row (wrong column count, no integer index): the caller counts it as garbage.
 */
export function parseNvidiaRow(fields: readonly string[], line: string): NvidiaRow | undefined {
  const cells = line.split(",");
  if (cells.length !== fields.length) return undefined;
  const byField = new Map<string, string>();
  fields.forEach((field, i) => {
    byField.set(field, cells[i] ?? "");
  });
  const indexText = nvidiaText(byField.get("index"));
  if (indexText === undefined || !/^\d+$/.test(indexText)) return undefined;
  const index = Number(indexText);

  const vramTotalMib = nvidiaNumber(byField.get("memory.total"));
  const mig = nvidiaText(byField.get("mig.mode.current"));
  const facts: GpuFacts = {
    index,
    uuid: nvidiaText(byField.get("uuid")) ?? "",
    name: nvidiaText(byField.get("name")) ?? "",
    // GpuFacts needs a number; 0 here means "not reported" (live figures stay undefined instead).
    vramTotalMib: vramTotalMib ?? 0,
    computeCapability: nvidiaText(byField.get("compute_cap")) ?? "",
    driverVersion: nvidiaText(byField.get("driver_version")) ?? "",
  };
  const live = withoutUndefined<GpuLive>({
    index,
    utilizationPercent: nvidiaNumber(byField.get("utilization.gpu")),
    vramUsedMib: nvidiaNumber(byField.get("memory.used")),
    vramTotalMib,
    temperatureCelsius: nvidiaNumber(byField.get("temperature.gpu")),
    powerWatts: nvidiaNumber(byField.get("power.draw")),
  });
  const migEnabled = mig === undefined ? undefined : mig.toLowerCase() === "enabled";
  return { facts, live, migEnabled };
}

/** Rows of a whole output, plus the count of lines that were not rows (blank lines are ignored). */
export interface NvidiaParse {
  rows: NvidiaRow[];
  garbage: number;
}

/** Parses `--format=csv,noheader[,nounits]` output, e.g. one tick of loop mode (one line per GPU). */
export function parseNvidiaCsv(text: string, fields: readonly string[] = NVIDIA_QUERY_FIELDS): NvidiaParse {
  const rows: NvidiaRow[] = [];
  let garbage = 0;
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === "") continue;
    const row = parseNvidiaRow(fields, line);
    if (row) rows.push(row);
    else garbage += 1;
  }
  return { rows, garbage };
}

/**
 * Parses `--format=csv` output that starts with a header (units in the header and in the values),
 * for any field list: the columns are named by the header, so captures with 200 fields parse too.
 */
export function parseNvidiaCsvWithHeader(text: string): NvidiaParse {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  const header = lines.shift();
  if (header === undefined) return { rows: [], garbage: 0 };
  const fields = header.split(",").map(nvidiaFieldFromHeader);
  return parseNvidiaCsv(lines.join("\n"), fields);
}

/** The `Field "x" is not a valid field to query.` message older drivers print for unknown fields. */
export function rejectedNvidiaField(line: string): string | undefined {
  return /Field\s+["“]([^"”]+)["”]\s+is not a valid field to query/.exec(line)?.[1];
}
