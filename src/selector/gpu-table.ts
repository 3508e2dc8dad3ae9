/**
 * Known accelerators, keyed by the names nvidia-smi / rocm-smi report ("NVIDIA H100 80GB HBM3",
 * "NVIDIA GeForce RTX 4090", "Navi 22 [Radeon RX 6700/6700 XT / 6800M]").
 *
 * `boost` is the seed-000 "compute boost" added to VRAM GB × 100 in the capability score; the seed
 * fixes RTX 4090 (+400 → 2800), RTX 3090 (+100 → 2500) and RTX 3080 (+200 → 1200), the rest are
 * ours, scaled so a generation step or a data-centre part outranks the consumer card of equal VRAM.
 * `bandwidthGBs` (memory bandwidth) and `tflops` (dense FP16/BF16 tensor throughput) give
 * gpu_aware its cold-start priors: decode is memory-bound, prefill compute-bound.
 */
export interface GpuSpec {
  /** Canonical short name, for logs and the dashboard. */
  readonly name: string;
  readonly boost: number;
  readonly bandwidthGBs: number;
  readonly tflops: number;
}

/** What an unrecognised GPU is assumed to be: a modest card, so priors stay plausible. */
export const UNKNOWN_GPU: GpuSpec = { name: "unknown", boost: 0, bandwidthGBs: 300, tflops: 30 };

// Order matters: the more specific pattern (Ti, SUPER, NVL, PCIe, 80GB) comes first.
const TABLE: ReadonlyArray<readonly [RegExp, GpuSpec]> = [
  [/gh200/, { name: "GH200", boost: 1600, bandwidthGBs: 4000, tflops: 989 }],
  [/h200/, { name: "H200", boost: 1600, bandwidthGBs: 4800, tflops: 989 }],
  [/h100.*nvl/, { name: "H100 NVL", boost: 1500, bandwidthGBs: 3900, tflops: 835 }],
  [/h100.*pcie/, { name: "H100 PCIe", boost: 1400, bandwidthGBs: 2000, tflops: 756 }],
  [/h100/, { name: "H100 SXM", boost: 1500, bandwidthGBs: 3350, tflops: 989 }],
  [/h800/, { name: "H800", boost: 1400, bandwidthGBs: 3350, tflops: 989 }],
  [/a100.*80/, { name: "A100 80GB", boost: 800, bandwidthGBs: 2039, tflops: 312 }],
  [/a100/, { name: "A100 40GB", boost: 800, bandwidthGBs: 1555, tflops: 312 }],
  [/a800/, { name: "A800", boost: 750, bandwidthGBs: 2039, tflops: 312 }],
  [/l40s/, { name: "L40S", boost: 700, bandwidthGBs: 864, tflops: 362 }],
  [/l40/, { name: "L40", boost: 600, bandwidthGBs: 864, tflops: 181 }],
  [/(^|\s)l4(\s|$)/, { name: "L4", boost: 300, bandwidthGBs: 300, tflops: 121 }],
  [/a10g/, { name: "A10G", boost: 300, bandwidthGBs: 600, tflops: 70 }],
  [/(^|\s)a10(\s|$)/, { name: "A10", boost: 300, bandwidthGBs: 600, tflops: 125 }],
  [/a40/, { name: "A40", boost: 300, bandwidthGBs: 696, tflops: 150 }],
  [/6000 ada/, { name: "RTX 6000 Ada", boost: 600, bandwidthGBs: 960, tflops: 364 }],
  [/a6000/, { name: "RTX A6000", boost: 300, bandwidthGBs: 768, tflops: 155 }],
  [/v100/, { name: "V100", boost: 300, bandwidthGBs: 900, tflops: 125 }],
  [/(^|\s)t4(\s|$)/, { name: "T4", boost: 100, bandwidthGBs: 320, tflops: 65 }],
  [/5090/, { name: "RTX 5090", boost: 600, bandwidthGBs: 1792, tflops: 209 }],
  [/4090/, { name: "RTX 4090", boost: 400, bandwidthGBs: 1008, tflops: 165 }],
  [/4080 super/, { name: "RTX 4080 SUPER", boost: 350, bandwidthGBs: 736, tflops: 104 }],
  [/4080/, { name: "RTX 4080", boost: 300, bandwidthGBs: 717, tflops: 97 }],
  [/4070 ti/, { name: "RTX 4070 Ti", boost: 250, bandwidthGBs: 504, tflops: 80 }],
  [/4070/, { name: "RTX 4070", boost: 200, bandwidthGBs: 504, tflops: 58 }],
  [/4060/, { name: "RTX 4060", boost: 100, bandwidthGBs: 272, tflops: 30 }],
  [/3090 ti/, { name: "RTX 3090 Ti", boost: 150, bandwidthGBs: 1008, tflops: 80 }],
  [/3090/, { name: "RTX 3090", boost: 100, bandwidthGBs: 936, tflops: 71 }],
  [/3080 ti/, { name: "RTX 3080 Ti", boost: 200, bandwidthGBs: 912, tflops: 68 }],
  [/3080/, { name: "RTX 3080", boost: 200, bandwidthGBs: 760, tflops: 60 }],
  [/3070/, { name: "RTX 3070", boost: 100, bandwidthGBs: 448, tflops: 40 }],
  [/3060/, { name: "RTX 3060", boost: 50, bandwidthGBs: 360, tflops: 25 }],
  [/2080 ti/, { name: "RTX 2080 Ti", boost: 50, bandwidthGBs: 616, tflops: 54 }],
  [/2080/, { name: "RTX 2080", boost: 50, bandwidthGBs: 496, tflops: 45 }],
  [/mi300x/, { name: "MI300X", boost: 1500, bandwidthGBs: 5300, tflops: 1307 }],
  [/mi250/, { name: "MI250X", boost: 800, bandwidthGBs: 3277, tflops: 383 }],
  [/mi210/, { name: "MI210", boost: 600, bandwidthGBs: 1638, tflops: 181 }],
  [/7900 xtx/, { name: "RX 7900 XTX", boost: 300, bandwidthGBs: 960, tflops: 123 }],
  [/6700/, { name: "RX 6700 XT", boost: 50, bandwidthGBs: 384, tflops: 26 }],
];

// Names repeat across thousands of snapshots; the regex walk happens once per distinct name.
const memo = new Map<string, GpuSpec>();
const MEMO_LIMIT = 4096;

/** Looks a GPU up by the name its driver reports; unknown names get UNKNOWN_GPU. */
export function gpuSpec(gpuName: string): GpuSpec {
  const hit = memo.get(gpuName);
  if (hit !== undefined) return hit;
  const key = gpuName
    .toLowerCase()
    .replace(/nvidia|geforce|tesla|quadro|radeon|amd|instinct|[-_[\]/]/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  let spec = UNKNOWN_GPU;
  for (const [pattern, candidate] of TABLE) {
    if (pattern.test(key)) {
      spec = candidate;
      break;
    }
  }
  if (memo.size >= MEMO_LIMIT) memo.clear(); // garbage names must not grow memory without bound
  memo.set(gpuName, spec);
  return spec;
}
