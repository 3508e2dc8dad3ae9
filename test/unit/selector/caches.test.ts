import { describe, expect, it } from "vitest";
import type { JobOutcome, NodeSnapshot } from "../../../src/nodes/types.js";
import { createMaxScorePicker } from "../../../src/selector/pickers/max-score.js";
import { createPipeline, predicateFilter, type Scorer } from "../../../src/selector/pipeline.js";
import { createSeededRng } from "../../../src/selector/rng.js";
import { FleetState } from "../../../src/selector/state/fleet-state.js";
import { NodeFacts } from "../../../src/selector/state/node-facts.js";
import { RecordTable } from "../../../src/selector/state/record-table.js";
import { gpu, makeNode, makeRequest, makeStrategy, picks, tally, testClock } from "./factory.js";

// The per-node caches behind decision latency: registration facts by candidate position
// (NodeFacts), learned figures in table rows (RecordTable) reached through the position binding
// in FleetState, and candidate positions carried through filters by the runner. Each test would
// fail if a cache kept serving a figure the node no longer has.

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A snapshot whose live figures are rewritten in place, as the control plane's NodeRecord is. */
function liveNode(id: string, overrides: Partial<NodeSnapshot> = {}): Mutable<NodeSnapshot> {
  return { ...makeNode(id, { gpu: "h100" }), ...overrides } as Mutable<NodeSnapshot>;
}

function outcome(nodeId: string, overrides: Partial<JobOutcome> = {}): JobOutcome {
  return {
    nodeId,
    model: "llama-3.1-8b",
    ok: true,
    promptTokens: 1000,
    completionTokens: 200,
    cachedPromptTokens: 0,
    ttftMs: 300,
    durationMs: 4000,
    ...overrides,
  };
}

describe("NodeFacts (registration figures by candidate position)", () => {
  it("recomputes price and WRR weight when the labels object is replaced", () => {
    const facts = new NodeFacts();
    const node = makeNode("a", { gpu: "h100", labels: { region: "r", tier: "t", costPerHourUsd: 0.5 } });
    expect(facts.costAt(0, node)).toBe(0.5);
    expect(facts.weightAt(0, node)).toBeCloseTo(3.6, 10); // 80 GB ×3, under $1/h ×1.2
    const repriced = { ...node, labels: { region: "r", tier: "t", costPerHourUsd: 4 } };
    expect(facts.costAt(0, repriced)).toBe(4);
    expect(facts.weightAt(0, repriced)).toBe(3);
    const unpriced = { ...node, labels: { region: "r", tier: "t" } };
    expect(facts.costAt(0, unpriced)).toBeNaN();
  });

  it("recomputes capability, VRAM and weight when the GPU list is replaced", () => {
    const facts = new NodeFacts();
    const node = makeNode("a", { gpu: "rtx3080" });
    expect(facts.capabilityAt(0, node)).toBe(1200);
    expect(facts.weightAt(0, node)).toBe(1);
    const upgraded = { ...node, gpus: [gpu("rtx4090"), gpu("rtx4090", 1)] };
    expect(facts.capabilityAt(0, upgraded)).toBe(5600);
    expect(facts.vramMibAt(0, upgraded)).toBe(2 * 24564);
    expect(facts.weightAt(0, upgraded)).toBe(2); // 48 GB
  });

  it("keeps positions apart and follows a different node at a position", () => {
    const facts = new NodeFacts();
    const small = makeNode("s", { gpu: "rtx3080" });
    const big = makeNode("b", { gpu: "h100" });
    expect([facts.capabilityAt(0, small), facts.capabilityAt(1, big)]).toEqual([1200, 9500]);
    expect([facts.capabilityAt(0, big), facts.capabilityAt(1, small)]).toEqual([9500, 1200]);
  });
});

describe("RecordTable rows", () => {
  it("a released row comes back clean for the next record", () => {
    const table = new RecordTable();
    const ix = table.allocate();
    table.jobs[ix] = 7;
    table.ewmaMs[ix] = 123;
    table.hotModel[ix] = table.modelId("m");
    table.release(ix);
    const again = table.allocate();
    expect(again).toBe(ix);
    expect([table.jobs[again], table.hotModel[again]]).toEqual([0, -1]);
    expect(table.ewmaMs[again]).toBeNaN();
  });

  it("keeps every row when it grows", () => {
    const table = new RecordTable();
    const rows = Array.from({ length: 200 }, () => table.allocate());
    rows.forEach((ix) => {
      table.prefillFreeAt[ix] = ix * 10;
    });
    table.allocate();
    expect(rows.every((ix) => table.prefillFreeAt[ix] === ix * 10)).toBe(true);
  });
});

describe("FleetState position binding", () => {
  const options = {
    now: () => 0,
    prefixes: false,
    prefixCapacity: 16,
    prefixBlockTokens: 0,
    learnSpeeds: true,
    adaptive: false,
  };

  it("a different node at a position gets its own record, not the previous one's", () => {
    const fleet = new FleetState(options);
    const a = makeNode("a");
    const b = makeNode("b");
    const rowA = fleet.indexAt(0, a);
    fleet.dispatch(makeRequest(), "a");
    const rowB = fleet.indexAt(0, b);
    expect(rowB).not.toBe(rowA);
    expect(fleet.table.jobs[rowB]).toBe(0);
    expect(fleet.table.jobs[rowA]).toBe(1);
    expect(fleet.indexAt(0, a)).toBe(rowA);
  });

  it("new GPUs at the same position reset what was learned (re-registration)", () => {
    const fleet = new FleetState(options);
    const node = makeNode("n", { gpu: "rtx4090" });
    const model = "llama-3.1-8b";
    const decodeOf = (snapshot: NodeSnapshot) => {
      const ix = fleet.indexAt(0, snapshot);
      fleet.hotAt(ix, fleet.table.modelId(model), model, false);
      return fleet.table.decodeMsPerToken[ix] as number;
    };
    const prior4090 = decodeOf(node);
    for (let i = 0; i < 30; i++) {
      fleet.dispatch(makeRequest(), "n");
      fleet.outcome(outcome("n", { durationMs: 300 + 199 * 60 })); // 60 ms per token: slow
    }
    const learned = decodeOf(node);
    expect(learned).toBeGreaterThan(prior4090 * 1.5);
    const h100 = decodeOf({ ...node, gpus: [gpu("h100")] });
    expect(h100).toBeLessThan(prior4090); // the H100 prior, not the slow 4090's history
  });
});

describe("the hot copy of learned speeds", () => {
  it("is reloaded after an outcome teaches the node something", () => {
    const clock = testClock();
    const strategy = makeStrategy("gpu_aware", {}, clock);
    const nodes = [makeNode("x", { gpu: "h100" }), makeNode("y", { gpu: "h100" })];
    const request = makeRequest({ promptTokens: 1000, maxTokens: 200 });
    strategy.select(request, nodes); // loads both hot copies from the prior
    for (let i = 0; i < 20; i++) {
      strategy.onDispatch?.(request, "x");
      clock.t += 10_000;
      strategy.onOutcome?.(outcome("x", { durationMs: 300 + 199 * 80 }));
    }
    expect(tally(picks(strategy, request, nodes, 10))).toEqual({ y: 10 });
  });

  it("follows the request's model (each model has its own speeds)", () => {
    // An H100 beats an RTX 4090 for either model; learning makes the H100 slow for one model only.
    const clock = testClock();
    const strategy = makeStrategy("gpu_aware", {}, clock);
    const nodes = [makeNode("h100", { gpu: "h100" }), makeNode("4090", { gpu: "rtx4090" })];
    const small = makeRequest({ model: "llama-3.1-8b", promptTokens: 500, maxTokens: 100 });
    const big = makeRequest({ model: "qwen-14b", promptTokens: 500, maxTokens: 100 });
    for (let i = 0; i < 30; i++) {
      strategy.onDispatch?.(small, "h100");
      clock.t += 60_000;
      strategy.onOutcome?.(outcome("h100", { durationMs: 300 + 99 * 200, completionTokens: 100 }));
    }
    const both = Array.from({ length: 6 }, (_, i) => strategy.select(i % 2 ? big : small, nodes)?.node.id);
    expect(both).toEqual(["4090", "h100", "4090", "h100", "4090", "h100"]);
  });
});

describe("live figures are read on every decision", () => {
  // The control plane hands the same NodeRecord objects to every decision and heartbeats rewrite
  // their figures in place: a strategy that cached a figure by object would keep a stale one.
  it.each([
    "metrics",
    "least_connections",
    "queue_weighted",
    "resource_aware",
    "latency_based",
    "cost_aware",
    "smart_adaptive",
    "gpu_aware",
  ])("%s follows load moving between the same two node objects", (name) => {
    const a = liveNode("a");
    const b = liveNode("b");
    const load = (node: Mutable<NodeSnapshot>, busy: boolean) => {
      node.inFlight = busy ? 40 : 0;
      node.gpuUsagePercent = busy ? 79 : 5;
      node.vramUsagePercent = busy ? 89 : 30;
      node.engine = { healthy: true, runningRequests: busy ? 40 : 0, waitingRequests: busy ? 8 : 0 };
      node.avgResponseMs = 500;
    };
    const strategy = makeStrategy(name);
    const request = makeRequest({ promptTokens: 1000, maxTokens: 200 });
    const chosen: string[] = [];
    for (let i = 0; i < 6; i++) {
      load(a, i % 2 === 0);
      load(b, i % 2 === 1);
      chosen.push(strategy.select(request, [a, b])?.node.id ?? "none");
    }
    expect(chosen).toEqual(["b", "a", "b", "a", "b", "a"]);
  });
});

describe("candidate positions through filters", () => {
  it("scorers and pickers see each kept node's position in the candidate list", () => {
    const seen: number[][] = [];
    const recorder: Scorer = {
      name: "positions",
      score(_request, nodes, n, out, slots) {
        const row: number[] = [];
        for (let i = 0; i < n; i++) {
          row.push(slots[i] as number);
          out[i] = 1;
          expect(nodes[i]).toBe(candidates[slots[i] as number]);
        }
        seen.push(row);
      },
    };
    const candidates = ["a", "b", "c", "d", "e"].map((id) => makeNode(id));
    const strategy = createPipeline({
      name: "t",
      rng: createSeededRng(1),
      profiles: [
        {
          reason: "r",
          filters: [
            predicateFilter("not-b", (_r, n) => n.id !== "b"),
            { name: "skipped", keepsAll: () => true, filter: () => 0 },
            predicateFilter("not-d", (_r, n) => n.id !== "d"),
          ],
          scorers: [{ scorer: recorder, weight: 1 }],
          picker: createMaxScorePicker(),
        },
      ],
    });
    strategy.select(makeRequest(), candidates);
    expect(seen).toEqual([[0, 2, 4]]);
  });

  it("metrics keeps capability per node while the gate's survivors change from call to call", () => {
    // Two idle nodes under thresholds; which one the gate lets through alternates, and the
    // capability tie-break must always be the survivor's own (a 3080 is never scored as an H100).
    const strategy = makeStrategy("metrics");
    const fast = liveNode("fast", { gpus: [gpu("h100")] });
    const slow = liveNode("slow", { gpus: [gpu("rtx3080")] });
    const other = liveNode("other", { gpus: [gpu("a100")] });
    for (let i = 0; i < 6; i++) {
      fast.gpuUsagePercent = i % 2 === 0 ? 95 : 10; // over the GPU threshold on even calls
      slow.gpuUsagePercent = 10;
      other.gpuUsagePercent = 10;
      for (const node of [fast, slow, other]) node.vramUsagePercent = 30;
      const picked = strategy.select(makeRequest(), [fast, slow, other])?.node.id;
      expect(picked).toBe(i % 2 === 0 ? "other" : "fast");
    }
  });
});
