import { describe, expect, it } from "vitest";
import type { JobOutcome, NodeSnapshot } from "../../../src/nodes/types.js";
import { FleetState } from "../../../src/selector/state/fleet-state.js";
import { KV_HIGH, predictLatency } from "../../../src/selector/state/latency-model.js";
import { SPEED_BAND } from "../../../src/selector/state/node-record.js";
import type { SelectionRequest } from "../../../src/selector/types.js";
import { garbageNode, makeNode, makeRequest, makeStrategy, picks, tally, testClock } from "./factory.js";

// gpu_aware: minimum predicted TTFT + completion from live KV/queue state, our own accounting of
// what we dispatched, learned per-node speeds (priors from the GPU table) and prefix affinity.

const MODEL = "llama-3.1-8b";
const prefix = (n: number, seed = 1) => Array.from({ length: n }, (_, i) => BigInt(seed * 1000 + i));

function outcome(nodeId: string, overrides: Partial<JobOutcome> = {}): JobOutcome {
  return {
    nodeId,
    model: MODEL,
    ok: true,
    promptTokens: 2000,
    completionTokens: 256,
    cachedPromptTokens: 0,
    ttftMs: 100,
    durationMs: 2000,
    ...overrides,
  };
}

type Row = [string, NodeSnapshot[], string];

describe("gpu_aware: cold start and live state", () => {
  const request = makeRequest({ promptTokens: 2000, maxTokens: 256 });
  const rows: Row[] = [
    [
      "the GPU table prior: an idle H100 over an idle RTX 4090",
      [makeNode("4090"), makeNode("h100", { gpu: "h100" })],
      "h100",
    ],
    [
      "an engine queue (10 waiting behind 40 running) sends work to the twin",
      [
        makeNode("queued", {
          gpu: "h100",
          inFlight: 40,
          engine: { healthy: true, runningRequests: 40, waitingRequests: 10 },
        }),
        makeNode("free", {
          gpu: "h100",
          inFlight: 40,
          engine: { healthy: true, runningRequests: 40, waitingRequests: 0 },
        }),
      ],
      "free",
    ],
    [
      "KV-cache pressure alone (99 % vs 30 %) does too",
      [
        makeNode("full", {
          gpu: "h100",
          inFlight: 10,
          engine: { healthy: true, runningRequests: 10, kvCacheUsage: 0.99 },
        }),
        makeNode("room", {
          gpu: "h100",
          inFlight: 10,
          engine: { healthy: true, runningRequests: 10, kvCacheUsage: 0.3 },
        }),
      ],
      "room",
    ],
    [
      "a big batch slows decode: 60 sequences vs 2 on twin GPUs",
      [makeNode("batch60", { gpu: "a100", inFlight: 60 }), makeNode("batch2", { gpu: "a100", inFlight: 2 })],
      "batch2",
    ],
    [
      "external load seen by the engine counts even when we dispatched nothing",
      [
        makeNode("shared", {
          gpu: "l4",
          inFlight: 0,
          engine: { healthy: true, runningRequests: 50, waitingRequests: 5 },
        }),
        makeNode("ours", {
          gpu: "l4",
          inFlight: 0,
          engine: { healthy: true, runningRequests: 0, waitingRequests: 0 },
        }),
      ],
      "ours",
    ],
  ];
  it.each(rows)("%s", (_name, nodes, expected) => {
    expect(makeStrategy("gpu_aware").select(request, nodes)).toMatchObject({
      node: { id: expected },
      reason: "predicted_latency",
    });
  });

  it("own accounting spreads load when the engine is silent, until the control plane's count disagrees", () => {
    const clock = testClock();
    const strategy = makeStrategy("gpu_aware", {}, clock);
    const nodes = [makeNode("a", { gpu: "h100" }), makeNode("b", { gpu: "h100" })];
    for (let i = 0; i < 5; i++) strategy.onDispatch?.(request, "a");
    expect(tally(picks(strategy, request, nodes, 20))).toEqual({ b: 20 });
    // The snapshots still say inFlight 0 three seconds later: those outcomes were lost.
    clock.t += 3_000;
    const counts = tally(picks(strategy, request, nodes, 400));
    expect(counts.a).toBeGreaterThan(150);
  });

  it("a faster GPU takes a larger share as work queues up, not all of it", () => {
    const strategy = makeStrategy("gpu_aware");
    const nodes = [makeNode("h100", { gpu: "h100" }), makeNode("4090", { gpu: "rtx4090" })];
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) {
      const id = strategy.select(request, nodes)?.node.id ?? "none";
      strategy.onDispatch?.(request, id);
      ids.push(id);
    }
    const counts = tally(ids);
    expect(counts.h100).toBeGreaterThan(40);
    expect(counts["4090"]).toBeGreaterThan(3);
  });

  it("degrades to what is fresh: stale engine figures, garbage numbers, no GPUs", () => {
    const nodes = [garbageNode("g"), makeNode("nogpu", { gpus: [] }), makeNode("stale", { gpu: "h100" })];
    const strategy = makeStrategy("gpu_aware");
    const weird: SelectionRequest = makeRequest({
      promptTokens: Number.NaN,
      maxTokens: Number.POSITIVE_INFINITY,
    });
    for (let i = 0; i < 20; i++) {
      const selection = strategy.select(weird, nodes);
      expect(selection?.reason).toBe("predicted_latency");
      strategy.onDispatch?.(weird, selection?.node.id ?? "");
    }
    strategy.onOutcome?.(outcome("g", { ttftMs: Number.NaN, durationMs: Number.NaN, promptTokens: -5 }));
    expect(strategy.select(makeRequest(), nodes)?.node.id).toBe("stale");
  });
});

describe("gpu_aware: prefix affinity", () => {
  const long = makeRequest({ promptTokens: 8000, maxTokens: 256, prefixHashes: prefix(8) });

  it("sends a repeated long prefix back to the node that cached it", () => {
    const clock = testClock();
    const strategy = makeStrategy("gpu_aware", {}, clock);
    const nodes = [makeNode("a", { gpu: "h100" }), makeNode("b", { gpu: "h100" })];
    const first = strategy.select(long, nodes);
    expect(first?.reason).toBe("predicted_latency");
    const holder = first?.node.id ?? "";
    strategy.onDispatch?.(long, holder);
    clock.t += 2_100;
    strategy.onOutcome?.(outcome(holder, { promptTokens: 8000, ttftMs: 340, durationMs: 2_100 }));
    clock.t += 1_000;
    for (let i = 0; i < 20; i++) {
      expect(strategy.select(long, nodes)).toMatchObject({ node: { id: holder }, reason: "prefix_hit" });
    }
    // A request sharing only the first half of the blocks still prefers the holder.
    const half = makeRequest({ promptTokens: 8000, prefixHashes: [...prefix(4), ...prefix(4, 9)] });
    expect(strategy.select(half, nodes)).toMatchObject({ node: { id: holder }, reason: "prefix_hit" });
  });

  it("does not follow the prefix onto an overloaded node", () => {
    const clock = testClock();
    const strategy = makeStrategy("gpu_aware", {}, clock);
    strategy.onDispatch?.(long, "a");
    clock.t += 5_000;
    strategy.onOutcome?.(outcome("a", { promptTokens: 8000, ttftMs: 340, durationMs: 2_100 }));
    const busy = makeNode("a", {
      gpu: "h100",
      inFlight: 60,
      engine: { healthy: true, runningRequests: 60, waitingRequests: 20, kvCacheUsage: KV_HIGH + 0.07 },
    });
    const idle = makeNode("b", { gpu: "h100" });
    expect(strategy.select(long, [busy, idle])).toMatchObject({
      node: { id: "b" },
      reason: "predicted_latency",
    });
    // …and a holder that is not a candidate (full) is simply not there.
    expect(strategy.select(long, [idle])?.reason).toBe("predicted_latency");
  });

  it("forgets a removed node's blocks", () => {
    const strategy = makeStrategy("gpu_aware");
    const before = strategy.stateSize();
    strategy.onDispatch?.(long, "a");
    expect(strategy.stateSize()).toBeGreaterThan(before + 8);
    strategy.onNodeRemoved?.("a");
    expect(strategy.stateSize()).toBeLessThanOrEqual(before + 1);
  });
});

describe("gpu_aware: learned speeds", () => {
  function fleetState(clock = testClock()) {
    return {
      clock,
      fleet: new FleetState({
        now: clock.now,
        prefixes: true,
        prefixCapacity: 64,
        prefixBlockTokens: 0,
        learnSpeeds: true,
        adaptive: false,
      }),
    };
  }

  it("calibrates prefill and decode speed from outcomes (TTFT vs prompt, rest vs completion)", () => {
    const { clock, fleet } = fleetState();
    const node = makeNode("n", { gpu: "rtx4090" });
    fleet.record(node);
    // The node is really: 25 ms overhead + 0.5 ms per prompt token; 35 ms per output token.
    for (let i = 0; i < 200; i++) {
      const prompt = 200 + ((i * 397) % 3800);
      const output = 50 + ((i * 131) % 400);
      fleet.dispatch(makeRequest({ promptTokens: prompt, maxTokens: output }), "n");
      clock.t += 60_000; // one job at a time: no queueing in the TTFT
      const ttft = 25 + 0.5 * prompt;
      fleet.outcome(
        outcome("n", {
          promptTokens: prompt,
          completionTokens: output,
          ttftMs: ttft,
          durationMs: ttft + 35 * (output - 1),
        }),
      );
    }
    const speeds = fleet.record(node).statsFor(MODEL).current();
    expect(speeds.prefillMsPerToken).toBeCloseTo(0.5, 1);
    expect(speeds.overheadMs).toBeGreaterThan(10);
    expect(speeds.overheadMs).toBeLessThan(40);
    expect(speeds.decodeMsPerToken + speeds.decodeSlopeMs).toBeCloseTo(35, 0);
  });

  it("learns the TTFT each sequence already on a node adds (congestion)", () => {
    const { clock, fleet } = fleetState();
    const node = makeNode("n", { gpu: "rtx4090" });
    fleet.record(node);
    // The node is really 25 ms + 0.5 ms per prompt token + 12 ms per sequence already running.
    for (let i = 0; i < 300; i++) {
      const others = i % 5;
      const prompt = 200 + ((i * 397) % 3800);
      // Fillers first, a millisecond apart, so the outcome below matches the measured job (the
      // latest dispatch) by its dispatch time.
      for (let k = 0; k < others; k++) {
        fleet.dispatch(makeRequest({ promptTokens: 10, maxTokens: 10 }), "n");
        clock.t += 1;
      }
      fleet.dispatch(makeRequest({ promptTokens: prompt, maxTokens: 100 }), "n");
      clock.t += 60_000;
      const ttft = 25 + 0.5 * prompt + 12 * others;
      fleet.outcome(
        outcome("n", {
          promptTokens: prompt,
          completionTokens: 100,
          ttftMs: ttft,
          durationMs: ttft + 99 * 30,
        }),
      );
      // The fillers end too (as failures: nothing to learn), off the books before the next round.
      for (let k = 0; k < others; k++) fleet.outcome(outcome("n", { ok: false, durationMs: 0 }));
    }
    const speeds = fleet.record(node).statsFor(MODEL).current();
    // Each filler's own prefill (10 tokens, less the 1 ms to the next dispatch) is already in the
    // predicted wait, which is taken out of the TTFT before learning: congestion is the rest.
    expect(speeds.congestionMs + 10 * speeds.prefillMsPerToken - 1).toBeCloseTo(12, 1);
    expect(speeds.prefillMsPerToken).toBeCloseTo(0.5, 1);
  });

  it("calibrates the prior to the fleet's scale: a never-sampled node predicts at the fleet's pace", () => {
    const { clock, fleet } = fleetState();
    // A time-scaled fleet: every 4090 runs 5× faster than the GPU table says.
    const ids = ["a", "b", "c"];
    for (const id of ids) fleet.record(makeNode(id, { gpu: "rtx4090" }));
    const cold = fleet.record(makeNode("cold", { gpu: "rtx4090" }));
    const prior = cold.statsFor(MODEL).prior;
    for (let i = 0; i < 200; i++) {
      const id = ids[i % 3] as string;
      const prompt = 500 + ((i * 397) % 3000);
      fleet.dispatch(makeRequest({ promptTokens: prompt, maxTokens: 100 }), id);
      clock.t += 1_000;
      const ttft = (prior.overheadMs + prior.prefillMsPerToken * prompt) / 5;
      fleet.outcome(
        outcome(id, {
          promptTokens: prompt,
          completionTokens: 100,
          ttftMs: ttft,
          durationMs: ttft + (99 * prior.decodeMsPerToken) / 5,
        }),
      );
    }
    const cal = fleet.calibration(MODEL);
    expect(cal.prefillScale).toBeCloseTo(0.2, 1);
    expect(cal.decodeScale).toBeCloseTo(0.2, 1);
    const speeds = cold.statsFor(MODEL).current();
    // Within 5 % (the decode ratio also carries the prior's small per-sequence slope).
    expect(Math.abs(speeds.prefillMsPerToken / (prior.prefillMsPerToken / 5) - 1)).toBeLessThan(0.05);
    expect(Math.abs(speeds.decodeMsPerToken / (prior.decodeMsPerToken / 5) - 1)).toBeLessThan(0.05);
  });

  it("a node slowed by a passing burst is not avoided for good: it drifts back once unsampled", () => {
    const { clock, fleet } = fleetState();
    const twin = makeNode("twin", { gpu: "rtx4090" });
    const hit = makeNode("hit", { gpu: "rtx4090" });
    fleet.record(twin);
    fleet.record(hit);
    const sample = (id: string, slow: number) => {
      fleet.dispatch(makeRequest({ promptTokens: 1000, maxTokens: 100 }), id);
      clock.t += 100;
      const ttft = 40 * slow;
      fleet.outcome(
        outcome(id, {
          promptTokens: 1000,
          completionTokens: 100,
          ttftMs: ttft,
          durationMs: ttft + 99 * 20 * slow,
        }),
      );
    };
    for (let i = 0; i < 100; i++) {
      sample("twin", 1);
      sample("hit", 1);
    }
    // A burst of contention on one node: TTFTs 30× the usual.
    for (let i = 0; i < 30; i++) sample("hit", 30);
    const ttftOf = (id: string) => {
      const s = fleet
        .record(makeNode(id, { gpu: "rtx4090" }))
        .statsFor(MODEL)
        .current();
      return s.overheadMs + s.prefillMsPerToken * 1000;
    };
    const twinTtft = ttftOf("twin");
    // Bounded: what it learned stays within the band around the calibrated prior.
    expect(ttftOf("hit")).toBeGreaterThan(2 * twinTtft);
    const band = fleet.record(hit).statsFor(MODEL).priorPrefillMs(1000) * SPEED_BAND;
    expect(ttftOf("hit")).toBeLessThanOrEqual(band * (1 + 1e-9));
    // A minute on, only the twin served (the burst's victim got nothing to learn from).
    for (let i = 0; i < 600; i++) sample("twin", 1);
    expect(ttftOf("hit")).toBeLessThan(1.5 * ttftOf("twin"));
  });

  it("the virtual prefill queue settles when a job ends: only work dispatched after it can still wait", () => {
    const { clock, fleet } = fleetState();
    const node = makeNode("n", { gpu: "rtx3080" });
    fleet.record(node);
    const t0 = clock.t;
    for (let i = 0; i < 10; i++) {
      fleet.dispatch(makeRequest({ promptTokens: 4000, maxTokens: 10 }), "n");
      clock.t += 1;
    }
    const rec = fleet.record(node);
    const perJob = rec.pending[0]?.prefillMs ?? 0;
    expect(perJob).toBeGreaterThan(10);
    expect(rec.prefillFreeAt).toBeCloseTo(t0 + 10 * perJob, 6);
    // The fifth job (dispatched at t0 + 4) ends 50 ms later: five were dispatched after it.
    clock.t = t0 + 54;
    fleet.outcome(outcome("n", { promptTokens: 4000, completionTokens: 10, ttftMs: 30, durationMs: 50 }));
    expect(rec.pending).toHaveLength(9);
    expect(rec.prefillFreeAt).toBeCloseTo(clock.t + 5 * perJob, 6);
  });

  it("prefers the node that proves faster than its twin", () => {
    const clock = testClock();
    const strategy = makeStrategy("gpu_aware", {}, clock);
    const nodes = [makeNode("slow", { gpu: "rtx4090" }), makeNode("fast", { gpu: "rtx4090" })];
    const request = makeRequest({ promptTokens: 1000, maxTokens: 200 });
    strategy.select(request, nodes); // first sight: records and priors
    for (let i = 0; i < 30; i++) {
      for (const id of ["slow", "fast"]) {
        strategy.onDispatch?.(request, id);
        clock.t += 10_000;
        const perToken = id === "slow" ? 45 : 20;
        strategy.onOutcome?.(
          outcome(id, {
            promptTokens: 1000,
            completionTokens: 200,
            ttftMs: 300,
            durationMs: 300 + 199 * perToken,
          }),
        );
      }
    }
    expect(tally(picks(strategy, request, nodes, 30))).toEqual({ fast: 30 });
  });

  it("predictions stay finite and positive on garbage input", () => {
    const { fleet } = fleetState();
    const node = garbageNode("g");
    const rec = fleet.record(node);
    const p = predictLatency(
      rec,
      node,
      rec.statsFor(MODEL).current(),
      Number.NaN,
      Number.NaN,
      Number.NaN,
      0,
      {
        ttftMs: 0,
        totalMs: 0,
        waitMs: 0,
      },
    );
    expect(Number.isFinite(p.totalMs) && p.totalMs > 0).toBe(true);
    expect(Number.isFinite(p.ttftMs)).toBe(true);
  });
});
