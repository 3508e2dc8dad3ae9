import type { GpuFacts, GpuLive } from "../../nodes/types.js";
import { withoutUndefined } from "./without-undefined.js";

/** Parsed rocm-smi output: one entry per `cardN`, sorted by N. */
export interface RocmParse {
  facts: GpuFacts[];
  samples: GpuLive[];
}

const MIB = 1024 * 1024;

type Card = Record<string, unknown>;

/**
 * Reads a field by any of its spellings, case-insensitively: key names differ across ROCm versions
 * ("Card Series" vs "Card series", "GPU Memory Allocated (VRAM%)" vs "GPU memory use (%)").
 * "N/A" and empty strings are unknown.
 */
function field(card: Card, ...names: string[]): string | undefined {
  const wanted = names.map((n) => n.toLowerCase());
  for (const name of wanted) {
    for (const [key, value] of Object.entries(card)) {
      if (key.toLowerCase() !== name || typeof value !== "string") continue;
      const v = value.trim();
      if (v !== "" && v.toUpperCase() !== "N/A") return v;
    }
  }
  return undefined;
}

function numberField(card: Card, ...names: string[]): number | undefined {
  const raw = field(card, ...names);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Parses `rocm-smi … --json`. Every value is a string. Some builds print warnings such as
 * `Exception caught: map::at` before the JSON, so parsing starts at the first "{".
 * Throws when there is no JSON object at all.
 */
export function parseRocmSmiJson(text: string): RocmParse {
  const start = text.indexOf("{");
  if (start < 0) throw new Error("rocm-smi printed no JSON object");
  const doc = JSON.parse(text.slice(start)) as Record<string, unknown>;
  const system = (doc.system ?? {}) as Card;
  const driverVersion = field(system, "Driver version") ?? "";
  const cards = Object.entries(doc)
    .map(([key, value]) => ({ index: /^card(\d+)$/i.exec(key)?.[1], card: value }))
    .filter(
      (c): c is { index: string; card: Card } =>
        c.index !== undefined && typeof c.card === "object" && c.card !== null,
    )
    .map((c) => ({ index: Number(c.index), card: c.card }))
    .sort((a, b) => a.index - b.index);

  const facts: GpuFacts[] = [];
  const samples: GpuLive[] = [];
  for (const { index, card } of cards) {
    const totalBytes = numberField(card, "VRAM Total Memory (B)");
    const usedBytes = numberField(card, "VRAM Total Used Memory (B)");
    const vramTotalMib = totalBytes === undefined ? undefined : Math.round(totalBytes / MIB);
    let vramUsedMib = usedBytes === undefined ? undefined : Math.round(usedBytes / MIB);
    if (vramUsedMib === undefined && vramTotalMib !== undefined) {
      // Without byte counts, the allocation percentage and the total still give MiB used.
      const pct = numberField(card, "GPU Memory Allocated (VRAM%)", "GPU memory use (%)");
      if (pct !== undefined) vramUsedMib = Math.round((pct / 100) * vramTotalMib);
    }
    facts.push({
      index,
      uuid: field(card, "Unique ID") ?? "",
      name: field(card, "Card Series", "Device Name", "Card Model") ?? "",
      vramTotalMib: vramTotalMib ?? 0,
      // AMD has no CUDA compute capability; the gfx target (gfx1031, gfx942) plays that role.
      computeCapability: field(card, "GFX Version") ?? "",
      driverVersion,
    });
    samples.push(
      withoutUndefined<GpuLive>({
        index,
        utilizationPercent: numberField(card, "GPU use (%)"),
        vramUsedMib,
        vramTotalMib,
        temperatureCelsius: numberField(
          card,
          "Temperature (Sensor edge) (C)",
          "Temperature (Sensor junction) (C)",
        ),
        powerWatts: numberField(
          card,
          "Average Graphics Package Power (W)",
          "Current Socket Graphics Package Power (W)",
        ),
      }),
    );
  }
  return { facts, samples };
}
