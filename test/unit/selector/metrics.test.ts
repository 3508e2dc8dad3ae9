import { describe, expect, it } from "vitest";
import type { NodeSnapshot } from "../../../src/nodes/types.js";
import { FILTERS } from "../../../src/selector/plugins.js";
import { capabilityScore, nodeCapability } from "../../../src/selector/registry.js";
import { createSeededRng } from "../../../src/selector/rng.js";
import { FleetState } from "../../../src/selector/state/fleet-state.js";
import {
  makeNode,
  makeRequest,
  makeStrategy,
  type NodeOverrides,
  picks,
  SEED_THRESHOLDS,
  tally,
} from "./factory.js";

// Seed 000/001 (research + quickstart): filter GPU ≤ 80 %, VRAM ≤ 90 %, active ≤ 10; order by GPU
// capability; pick the fewest active requests; all over threshold → round robin; missing metrics
// degrade through levels 0–4. Table rows are [case, nodes, expected id, expected reason].

const full = (gpu: number, vram: number, inFlight = 0): NodeOverrides => ({
  gpuUsagePercent: gpu,
  vramUsagePercent: vram,
  inFlight,
  engine: { healthy: true, runningRequests: inFlight, waitingRequests: 0 },
});

type Row = [string, NodeSnapshot[], string, string];

const cases: Row[] = [
  [
    "fewest active among nodes under every threshold",
    [makeNode("a", full(30, 50, 2)), makeNode("b", full(20, 40, 0)), makeNode("c", full(10, 30, 1))],
    "b",
    "gpu_metrics",
  ],
  [
    "GPU over 80 % is filtered out even when idle",
    [makeNode("hot", full(85, 50, 0)), makeNode("ok", full(50, 50, 5))],
    "ok",
    "gpu_metrics",
  ],
  [
    "GPU exactly 80 % passes (≤)",
    [makeNode("edge", full(80, 50, 0)), makeNode("busy", full(10, 50, 3))],
    "edge",
    "gpu_metrics",
  ],
  [
    "VRAM over 90 % is filtered out",
    [makeNode("full", full(10, 95, 0)), makeNode("ok", full(10, 60, 1))],
    "ok",
    "gpu_metrics",
  ],
  [
    "VRAM exactly 90 % passes (≤)",
    [makeNode("edge", full(10, 90, 0)), makeNode("b", full(10, 10, 2))],
    "edge",
    "gpu_metrics",
  ],
  [
    "more than 10 active requests is filtered out",
    [makeNode("eleven", { ...full(10, 10, 11) }), makeNode("ten", full(10, 10, 10))],
    "ten",
    "gpu_metrics",
  ],
  [
    "the engine's running + waiting count as active requests",
    [
      makeNode("queued", {
        ...full(10, 10, 0),
        engine: { healthy: true, runningRequests: 9, waitingRequests: 4 },
      }),
      makeNode("ok", full(10, 10, 3)),
    ],
    "ok",
    "gpu_metrics",
  ],
  [
    "equal load: the higher capability wins (4090 2800 over 3080 1200)",
    [
      makeNode("3080", { gpu: "rtx3080", ...full(10, 10, 1) }),
      makeNode("4090", { gpu: "rtx4090", ...full(10, 10, 1) }),
    ],
    "4090",
    "gpu_metrics",
  ],
  [
    "equal load: H100 over RTX 4090 over RTX 3090",
    [
      makeNode("3090", { gpu: "rtx3090", ...full(10, 10) }),
      makeNode("h100", { gpu: "h100", ...full(10, 10) }),
      makeNode("4090", { gpu: "rtx4090", ...full(10, 10) }),
    ],
    "h100",
    "gpu_metrics",
  ],
  [
    "fewer active requests beat higher capability",
    [
      makeNode("h100", { gpu: "h100", ...full(10, 10, 3) }),
      makeNode("3080", { gpu: "rtx3080", ...full(10, 10, 1) }),
    ],
    "3080",
    "gpu_metrics",
  ],
  [
    "level 1: GPU % unknown, VRAM + active decide",
    [
      makeNode("a", { vramUsagePercent: 50, inFlight: 2 }),
      makeNode("b", { vramUsagePercent: 95, inFlight: 0 }),
      makeNode("c", { vramUsagePercent: 60, inFlight: 1 }),
    ],
    "c",
    "vram_active",
  ],
  [
    "level 0 nodes are preferred to level 1 nodes while they pass",
    [makeNode("l1", { vramUsagePercent: 10, inFlight: 0 }), makeNode("l0", full(70, 70, 5))],
    "l0",
    "gpu_metrics",
  ],
  [
    "a level 1 node is used when every level 0 node is over threshold",
    [makeNode("l0", full(95, 70, 0)), makeNode("l1", { vramUsagePercent: 10, inFlight: 4 })],
    "l1",
    "vram_active",
  ],
  [
    "level 2: no GPU/VRAM figures, the engine reports: fewest active",
    [
      makeNode("a", { inFlight: 3, engine: { healthy: true, runningRequests: 3 } }),
      makeNode("b", { inFlight: 1, engine: { healthy: true, runningRequests: 1 } }),
    ],
    "b",
    "fewest_active",
  ],
  [
    "level 2 still applies the active threshold; the silent node (level 3) takes over",
    [
      makeNode("busy", { inFlight: 12, engine: { healthy: true, runningRequests: 12 } }),
      makeNode("silent", { gpu: "rtx3080" }),
    ],
    "silent",
    "capability_round_robin",
  ],
  [
    "level 4: everyone over threshold → pure round robin (first turn)",
    [makeNode("x", full(95, 95, 20)), makeNode("y", full(99, 50, 0))],
    "x",
    "fallback_round_robin",
  ],
];

describe("metrics strategy (seed 000/001)", () => {
  it.each(cases)("%s", (_name, nodes, expected, reason) => {
    const selection = makeStrategy("metrics").select(makeRequest(), nodes);
    expect(selection?.node.id).toBe(expected);
    expect(selection?.reason).toBe(reason);
  });

  it("level 4 round robin visits every node in turn", () => {
    const nodes = ["x", "y", "z"].map((id) => makeNode(id, full(99, 99, 50)));
    expect(picks(makeStrategy("metrics"), makeRequest(), nodes, 6)).toEqual(["x", "y", "z", "x", "y", "z"]);
  });

  it("level 3 rotates among the most capable silent nodes only", () => {
    const nodes = [
      makeNode("h1", { gpu: "h100" }),
      makeNode("small", { gpu: "rtx3080" }),
      makeNode("h2", { gpu: "h100" }),
    ];
    const ids = picks(makeStrategy("metrics"), makeRequest(), nodes, 6);
    expect(ids).toEqual(["h1", "h2", "h1", "h2", "h1", "h2"]);
  });

  it("spreads equal nodes evenly with random tie-breaks", () => {
    const nodes = ["a", "b", "c", "d"].map((id) => makeNode(id, full(10, 10, 0)));
    const counts = tally(picks(makeStrategy("metrics"), makeRequest(), nodes, 4000));
    for (const id of ["a", "b", "c", "d"]) expect(counts[id]).toBeGreaterThan(850);
  });

  it("honours operator thresholds (LLMLB_GPU_THRESHOLD=70)", () => {
    const nodes = [makeNode("75", full(75, 10, 0)), makeNode("60", full(60, 10, 4))];
    expect(makeStrategy("metrics", { gpuThreshold: 70 }).select(makeRequest(), nodes)?.node.id).toBe("60");
    expect(makeStrategy("metrics").select(makeRequest(), nodes)?.node.id).toBe("75");
  });

  it("capability only breaks ties, even with a large active threshold (500)", () => {
    const strategy = makeStrategy("metrics", { activeRequestThreshold: 500 });
    const h100 = makeNode("h100", { gpu: "h100", ...full(10, 10, 200), maxConcurrency: 512 });
    const small = makeNode("3080", { gpu: "rtx3080", ...full(10, 10, 199), maxConcurrency: 512 });
    expect(strategy.select(makeRequest(), [h100, small])?.node.id).toBe("3080");
    const tied = makeNode("3080", { gpu: "rtx3080", ...full(10, 10, 200), maxConcurrency: 512 });
    expect(strategy.select(makeRequest(), [tied, h100])?.node.id).toBe("h100");
  });

  it("an unhealthy engine's figures do not count (level 3, not 2)", () => {
    const node = makeNode("sick", { engine: { healthy: false, runningRequests: 0 } });
    expect(makeStrategy("metrics").select(makeRequest(), [node])?.reason).toBe("capability_round_robin");
  });
});

describe("GPU capability score (seed 000)", () => {
  it.each([
    ["NVIDIA GeForce RTX 4090", 24564, 2800],
    ["NVIDIA GeForce RTX 3090", 24576, 2500],
    ["NVIDIA GeForce RTX 3080", 10240, 1200],
    ["NVIDIA H100 80GB HBM3", 81559, 9500],
    ["NVIDIA A100-SXM4-80GB", 81920, 8800],
    ["NVIDIA L4", 23034, 2500], // nvidia-smi reports 22.5 GiB of the "24 GB" card
    ["NVIDIA GeForce RTX 4080 SUPER", 16376, 1950],
    ["Navi 22 [Radeon RX 6700/6700 XT / 6800M]", 12272, 1250],
    ["Some Future GPU", 16384, 1600],
    ["", Number.NaN, 0],
  ])("%s with %d MiB → %d", (name, mib, score) => {
    expect(capabilityScore(name, mib)).toBe(score);
  });

  it("sums over a node's GPUs and is 0 without GPUs", () => {
    const two = makeNode("two", {
      gpus: [makeNode("x").gpus[0], makeNode("y").gpus[0]].filter((g) => g !== undefined),
    });
    expect(nodeCapability(two)).toBe(5600);
    expect(nodeCapability(makeNode("none", { gpus: [] }))).toBe(0);
  });
});

describe("metrics-gate filter", () => {
  it("gives the same verdict as the metrics-level → threshold filter chain", () => {
    const env = {
      ...SEED_THRESHOLDS,
      now: () => 0,
      fleet: new FleetState({
        now: () => 0,
        prefixes: false,
        prefixCapacity: 1,
        prefixBlockTokens: 0,
        learnSpeeds: false,
        adaptive: false,
      }),
    };
    const make = (type: string, params?: Record<string, number>) => {
      const factory = FILTERS[type];
      if (factory === undefined) throw new Error(type);
      return factory(params, env);
    };
    const rng = createSeededRng(3);
    const maybe = (x: number) => (rng() < 0.3 ? undefined : x);
    const nodes = Array.from({ length: 500 }, (_, i) => {
      const overrides: NodeOverrides = { inFlight: Math.floor(rng() * 20) };
      const gpu = maybe(rng() * 110);
      const vram = maybe(rng() * 110);
      if (gpu !== undefined) overrides.gpuUsagePercent = gpu;
      if (vram !== undefined) overrides.vramUsagePercent = vram;
      if (rng() < 0.5) overrides.engine = { healthy: rng() < 0.9, runningRequests: Math.floor(rng() * 15) };
      return makeNode(`n${i}`, overrides);
    });
    for (const level of [0, 1, 2]) {
      const chain = [
        make("metrics-level", { level }),
        make("gpu-threshold"),
        make("vram-threshold"),
        make("active-threshold"),
      ];
      // Positions ride along: each filter writes the candidate position of every node it keeps.
      const positions = Int32Array.from(nodes, (_, k) => k);
      let kept: NodeSnapshot[] = [...nodes];
      let keptAt = positions.slice();
      for (const f of chain) {
        const out: NodeSnapshot[] = [];
        const at = new Int32Array(kept.length);
        out.length = f.filter(makeRequest(), kept, kept.length, out, keptAt, at);
        kept = out;
        keptAt = at.subarray(0, out.length);
      }
      const gated: NodeSnapshot[] = [];
      const gatedAt = new Int32Array(nodes.length);
      gated.length = make("metrics-gate", { level }).filter(
        makeRequest(),
        nodes,
        nodes.length,
        gated,
        positions,
        gatedAt,
      );
      expect(gated.map((n) => n.id)).toEqual(kept.map((n) => n.id));
      expect(Array.from(gatedAt.subarray(0, gated.length), (k) => nodes[k]?.id)).toEqual(
        gated.map((n) => n.id),
      );
      expect(Array.from(keptAt)).toEqual(Array.from(gatedAt.subarray(0, gated.length)));
      expect(gated.length).toBeGreaterThan(10);
    }
  });
});
