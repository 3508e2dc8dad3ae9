import { describe, expect, it } from "vitest";
import type { NodeSnapshot } from "../../../src/nodes/types.js";
import { makeNode, makeRequest, makeStrategy, picks, tally } from "./factory.js";

// Seed 002 (request queueing research, §4): score = GPU load × 0.3 + queue length × 0.7, with the
// seed's scaling `gpu_usage * 0.3 * 100 + queue_length * 0.7 * 10`: lower is better.

type Row = [string, NodeSnapshot[], string];

const rows: Row[] = [
  [
    "an idle queue beats a hot GPU (90 % → 27 vs 10 % + 1 queued → 10)",
    [
      makeNode("hot", { gpuUsagePercent: 90, inFlight: 0 }),
      makeNode("queued", { gpuUsagePercent: 10, inFlight: 1 }),
    ],
    "queued",
  ],
  [
    "queue length weighs more: 20 % + 2 queued = 20 beats 80 % + 0 = 24",
    [
      makeNode("a", { gpuUsagePercent: 20, inFlight: 2 }),
      makeNode("b", { gpuUsagePercent: 80, inFlight: 0 }),
    ],
    "a",
  ],
  [
    "but not always: 20 % + 3 queued = 27 loses to 80 % = 24",
    [
      makeNode("a", { gpuUsagePercent: 20, inFlight: 3 }),
      makeNode("b", { gpuUsagePercent: 80, inFlight: 0 }),
    ],
    "b",
  ],
  [
    "the engine's waiting requests are queue too",
    [
      makeNode("waiting", {
        gpuUsagePercent: 0,
        inFlight: 0,
        engine: { healthy: true, runningRequests: 0, waitingRequests: 3 },
      }),
      makeNode("busy-gpu", { gpuUsagePercent: 60, inFlight: 0 }),
    ],
    "busy-gpu",
  ],
  [
    "an unknown GPU % counts as the candidates' mean (50 %), not as idle",
    [
      makeNode("unknown", { inFlight: 0 }),
      makeNode("b", { gpuUsagePercent: 10, inFlight: 0 }),
      makeNode("c", { gpuUsagePercent: 90, inFlight: 0 }),
    ],
    "b",
  ],
];

describe("queue_weighted (seed 002)", () => {
  it.each(rows)("%s", (_name, nodes, expected) => {
    const selection = makeStrategy("queue_weighted").select(makeRequest(), nodes);
    expect(selection).toMatchObject({ node: { id: expected }, reason: "queue_weighted" });
  });

  it("equal scores (70 % idle vs 0 % with 3 queued: 21 each) share the load", () => {
    const nodes = [
      makeNode("a", { gpuUsagePercent: 70, inFlight: 0 }),
      makeNode("b", { gpuUsagePercent: 0, inFlight: 3 }),
    ];
    const counts = tally(picks(makeStrategy("queue_weighted"), makeRequest(), nodes, 1000));
    expect(counts.a).toBeGreaterThan(400);
    expect(counts.b).toBeGreaterThan(400);
  });
});
