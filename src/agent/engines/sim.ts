import type { GpuFacts, GpuLive } from "../../nodes/types.js";
import type { GpuReading } from "../collectors/types.js";
import { withoutUndefined } from "../collectors/without-undefined.js";
import { createEngineHttp, reason } from "./engine-http.js";
import type { EngineAdapter, EngineAdapterOptions } from "./types.js";
import { vllmCore } from "./vllm.js";

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string => (typeof v === "string" ? v : "");

/**
 * Parses the simulator's `GET /sim/gpu`:
 * `{"gpus":[{"index","uuid","name","vram_total_mib","vram_used_mib","utilization_percent",
 * "temperature_celsius","power_watts","compute_capability","driver_version"}]}`.
 */
export function parseSimGpu(json: unknown): { facts: GpuFacts[]; samples: GpuLive[] } {
  const gpus = (json as { gpus?: unknown } | null)?.gpus;
  const list = Array.isArray(gpus)
    ? gpus.filter((g): g is Record<string, unknown> => typeof g === "object" && g !== null)
    : [];
  const facts: GpuFacts[] = [];
  const samples: GpuLive[] = [];
  list.forEach((g, i) => {
    const index = num(g.index) ?? i;
    const vramTotalMib = num(g.vram_total_mib);
    facts.push({
      index,
      uuid: str(g.uuid),
      name: str(g.name),
      vramTotalMib: vramTotalMib ?? 0,
      computeCapability: str(g.compute_capability),
      driverVersion: str(g.driver_version),
    });
    samples.push(
      withoutUndefined<GpuLive>({
        index,
        utilizationPercent: num(g.utilization_percent),
        vramUsedMib: num(g.vram_used_mib),
        vramTotalMib,
        temperatureCelsius: num(g.temperature_celsius),
        powerWatts: num(g.power_watts),
      }),
    );
  });
  return { facts, samples };
}

/** The built-in simulator: vLLM's API and metrics, plus /sim/gpu (GPU figures) and /sim/state (max_num_seqs). */
export function createSimAdapter(baseUrl: string, opts: EngineAdapterOptions = {}): EngineAdapter {
  const http = createEngineHttp(baseUrl, {
    timeoutMs: opts.timeoutMs ?? 3000,
    ...(opts.apiKey && { apiKey: opts.apiKey }),
  });
  return {
    ...vllmCore(http),
    kind: "sim",
    baseUrl,
    async maxConcurrency() {
      // The simulator's --max-num-seqs, which real vLLM does not publish.
      try {
        const n = ((await http.json("/sim/state")) as { max_num_seqs?: unknown } | null)?.max_num_seqs;
        return typeof n === "number" && n > 0 ? n : undefined;
      } catch {
        return undefined;
      }
    },
    async gpuReading(): Promise<GpuReading> {
      try {
        const { facts, samples } = parseSimGpu(await http.json("/sim/gpu"));
        return { source: "simulated", note: "", facts, samples, ageMs: 0 };
      } catch (err) {
        return {
          source: "simulated",
          note: reason(err),
          facts: [],
          samples: [],
          ageMs: Number.POSITIVE_INFINITY,
        };
      }
    },
  };
}
