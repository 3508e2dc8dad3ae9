import { describe, expect, it } from "vitest";
import type { NodeSnapshot } from "../../../src/nodes/types.js";
import { STRATEGY_NAMES } from "../../../src/selector/registry.js";
import { createSeededRng } from "../../../src/selector/rng.js";
import {
  bareNode,
  type GpuKind,
  garbageNode,
  makeNode,
  makeRequest,
  makeStrategy,
  testClock,
} from "./factory.js";

// One suite every strategy runs (hono's common.case.test.ts pattern): the Strategy contract,
// independent of what a strategy optimises.

const REASON = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
const KINDS: GpuKind[] = ["h100", "a100", "l4", "rtx4090", "rtx3090", "rtx3080"];

/** A heterogeneous fleet with a spread of live figures, some missing, some garbage. */
function fleet(size: number, seed = 7): NodeSnapshot[] {
  const rng = createSeededRng(seed);
  const nodes: NodeSnapshot[] = [];
  for (let i = 0; i < size; i++) {
    const kind = KINDS[i % KINDS.length] as GpuKind;
    const r = rng();
    if (i % 11 === 5) nodes.push(bareNode(`n${i}`, kind));
    else if (i % 13 === 7) nodes.push(garbageNode(`n${i}`));
    else
      nodes.push(
        makeNode(`n${i}`, {
          gpu: kind,
          inFlight: Math.floor(r * 12),
          totalRequests: Math.floor(rng() * 500),
          gpuUsagePercent: rng() * 100,
          vramUsagePercent: 40 + rng() * 60,
          engine: {
            healthy: true,
            runningRequests: Math.floor(r * 12),
            waitingRequests: i % 3,
            kvCacheUsage: rng(),
          },
          avgResponseMs: 100 + rng() * 900,
          ewmaResponseMs: 100 + rng() * 900,
          labels: { region: "r", tier: "t", costPerHourUsd: 0.3 + rng() * 3 },
        }),
      );
  }
  return nodes;
}

/** Drives a strategy through select → dispatch → outcome cycles; returns the picks. */
function drive(name: string, nodes: readonly NodeSnapshot[], decisions: number, seed = 1): string[] {
  const clock = testClock();
  const strategy = makeStrategy(name, { rng: createSeededRng(seed) }, clock);
  const rng = createSeededRng(seed + 1);
  const open: { nodeId: string; at: number }[] = [];
  const ids: string[] = [];
  for (let i = 0; i < decisions; i++) {
    clock.t += 10;
    const hashes = [BigInt(i % 5), BigInt(1000 + (i % 17))];
    const request = makeRequest({ promptTokens: 100 + (i % 7) * 300, prefixHashes: hashes });
    const selection = strategy.select(request, nodes);
    if (selection === undefined) continue;
    ids.push(selection.node.id);
    strategy.onDispatch?.(request, selection.node.id);
    open.push({ nodeId: selection.node.id, at: clock.t });
    if (open.length > 8) {
      const job = open.splice(Math.floor(rng() * open.length), 1)[0] as { nodeId: string; at: number };
      strategy.onOutcome?.({
        nodeId: job.nodeId,
        model: request.model,
        ok: rng() > 0.1,
        promptTokens: request.promptTokens,
        completionTokens: Math.floor(rng() * 300),
        cachedPromptTokens: 0,
        ttftMs: 20 + rng() * 100,
        durationMs: clock.t - job.at,
      });
    }
  }
  return ids;
}

describe.each(STRATEGY_NAMES)("strategy %s (conformance)", (name) => {
  it("answers undefined for no candidates", () => {
    expect(makeStrategy(name).select(makeRequest(), [])).toBeUndefined();
  });

  it("picks the only candidate", () => {
    const only = makeNode("solo", { gpuUsagePercent: 10, vramUsagePercent: 20 });
    const selection = makeStrategy(name).select(makeRequest(), [only]);
    expect(selection?.node).toBe(only);
    expect(selection?.reason).toMatch(REASON);
  });

  it("never picks a node outside the candidates, and always picks one", () => {
    const nodes = fleet(40);
    const strategy = makeStrategy(name);
    for (let i = 0; i < 300; i++) {
      const subset = nodes.filter((_, j) => (i + j) % 3 !== 0);
      const selection = strategy.select(makeRequest({ promptTokens: 64 * (i % 9) }), subset);
      expect(selection).toBeDefined();
      expect(subset).toContain(selection?.node);
    }
  });

  it("is deterministic for a seeded RNG", () => {
    const nodes = fleet(25);
    expect(drive(name, nodes, 400, 3)).toEqual(drive(name, nodes, 400, 3));
  });

  it("tolerates nodes with every optional figure undefined", () => {
    const nodes = KINDS.map((k, i) => bareNode(`bare${i}`, k));
    const strategy = makeStrategy(name);
    for (let i = 0; i < 50; i++) {
      const request = makeRequest({ prefixHashes: [1n, 2n] });
      const selection = strategy.select(request, nodes);
      expect(nodes).toContain(selection?.node);
      expect(selection?.reason).toMatch(REASON);
      strategy.onDispatch?.(request, selection?.node.id ?? "");
    }
  });

  it("tolerates garbage figures and gives snake_case reasons, never NaN", () => {
    const nodes = [
      garbageNode("g1"),
      garbageNode("g2"),
      makeNode("ok", { gpuUsagePercent: 10, vramUsagePercent: 10 }),
    ];
    const strategy = makeStrategy(name);
    const weird = makeRequest({
      promptTokens: Number.NaN,
      maxTokens: -1,
      requirements: { maxLatencyMs: Number.NaN },
    });
    for (let i = 0; i < 30; i++) {
      const selection = strategy.select(weird, nodes);
      expect(nodes).toContain(selection?.node);
      expect(selection?.reason).toMatch(REASON);
      expect(selection?.reason).not.toMatch(/nan|undefined/i);
    }
  });

  it("keeps bounded state over 10,000 decisions on 100 nodes", () => {
    const nodes = fleet(100);
    const clock = testClock();
    const strategy = makeStrategy(name, { prefixCapacity: 64 }, clock);
    const sizes: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      clock.t += 5;
      // Every request carries fresh prefix hashes: the worst case for an unbounded index.
      const request = makeRequest({ prefixHashes: [BigInt(i), BigInt(i) * 7n + 1n, BigInt(i) * 13n + 2n] });
      const selection = strategy.select(request, nodes);
      if (selection === undefined) throw new Error("no selection");
      strategy.onDispatch?.(request, selection.node.id);
      if (i % 3 !== 0) {
        strategy.onOutcome?.({
          nodeId: selection.node.id,
          model: request.model,
          ok: true,
          promptTokens: 512,
          completionTokens: 100,
          cachedPromptTokens: 0,
          ttftMs: 30,
          durationMs: 800,
        });
      }
      if (i === 4_999 || i === 9_999) sizes.push(strategy.stateSize());
    }
    // Per node: its record, a model entry, ≤ 64 prefix blocks, and pending jobs (a third of the
    // jobs never report, so those age out after 15 simulated minutes: ≤ 180,000 ms / 5 ms / 3).
    const bound = 100 * (2 + 64) + 12_000 + 10;
    expect(sizes[1]).toBeLessThanOrEqual(bound);
    expect(sizes[1] as number).toBeLessThanOrEqual((sizes[0] as number) * 1.5 + 100);
    for (const node of nodes) strategy.onNodeRemoved?.(node.id);
    expect(strategy.stateSize()).toBeLessThanOrEqual(10);
  });
});
