import type { NodeSnapshot } from "../../nodes/types.js";
import { slotLoad } from "../node-figures.js";
import { MAX_SCORE_TIE } from "../pickers/max-score.js";
import type { Scorer } from "../pipeline.js";
import type { PluginEnv } from "../plugin-kit.js";
import { ensureLength } from "../plugin-kit.js";
import type { FleetState } from "../state/fleet-state.js";
import { cacheKey, MIN_PRICE, type NodeFacts } from "../state/node-facts.js";

// The price floor, unexported here (a module cell read in a loop is a tagged value).
const MIN_COST = MIN_PRICE;
/**
 * The value bound's margin over rounding. The bound, decodeRate × perDollar, is the value at no
 * load (the load only divides the throughput further); computed by multiplying reciprocals it
 * may round a few ulps (1e-16 each) below the value computed by division, and this is 1e-9.
 */
const boundSlack = 1 + 1e-9;
// The max-score picker's tie band, read here as a constant of this module.
const maxScoreTie = MAX_SCORE_TIE;

/** Throughput per $/h; 0 when that is not a finite number. */
function valueFor(throughput: number, costPerHour: number): number {
  const value = throughput / Math.max(MIN_COST, costPerHour);
  return Number.isFinite(value) ? value : 0;
}

/**
 * Imputes a price for nodes without a `costPerHourUsd` label: the mean of the labelled
 * candidates, or $1/h when none is labelled (then price is constant and performance decides).
 */
export function meanKnownCost(
  facts: NodeFacts,
  nodes: readonly NodeSnapshot[],
  n: number,
  slots: Int32Array,
): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const c = facts.costAt(slots[i] as number, nodes[i] as NodeSnapshot);
    if (!Number.isNaN(c)) {
      sum += c;
      count++;
    }
  }
  return count > 0 ? sum / count : 1;
}

/**
 * Seed 003 cost_aware: best performance per cost. Performance is the decode throughput this
 * request can expect (tokens/s from the node's learned or prior decode speed for the model,
 * shared with the jobs already in its slots); cost is $/h. Score = value / best value.
 */
export function createCostPerformanceScorer(_params: unknown, env: PluginEnv): Scorer {
  let priced: Float64Array = new Float64Array(64);
  const scratch = new BoundScratch();
  return {
    name: "cost-performance",
    score(request, nodes, n, out, slots) {
      const fleet = env.fleet;
      const facts = fleet.facts;
      const table = fleet.table;
      // One pass reads the nodes: a priced node gets its value there; an unpriced one keeps its
      // throughput, and a mark in `priced`, until the mean known price (meanKnownCost, fused)
      // is known. Its value is monotone in the throughput, so the best of them is at the highest
      // one, and the second pass can already normalise.
      const model = request.model;
      const modelId = table.modelId(model);
      priced = ensureLength(priced, n);
      let sum = 0;
      let count = 0;
      let best = 0;
      let fastest = Number.NEGATIVE_INFINITY;
      // Rows are bound before the loop reads the table's arrays (binding may grow them).
      table.reserve(n);
      const { jobs, hotModel, decodeMsPerToken } = table;
      for (let i = 0; i < n; i++) {
        const node = nodes[i] as NodeSnapshot;
        const slot = slots[i] as number;
        const inFlight = node.inFlight;
        // FleetState.indexAt, hotAt and NodeFacts.costAt, inlined (see predictRows).
        const o = node.ordinal;
        const byOrdinal = o !== undefined && o >= 0;
        const key = byOrdinal ? o : slot;
        let ix: number;
        if (
          byOrdinal
            ? key < fleet.slotGen.length && fleet.slotGen[key] === node.generation
            : fleet.slotIds[key] === node.id && fleet.slotGpus[key] === node.gpus
        ) {
          ix = fleet.slotIx[key] as number;
          if ((jobs[ix] as number) > inFlight && Number.isFinite(inFlight)) fleet.checkJobs(ix, inFlight);
        } else ix = fleet.indexAt(slot, node);
        if (hotModel[ix] !== modelId) fleet.hotAt(ix, modelId, model, false);
        const decodeMs = decodeMsPerToken[ix] as number;
        const throughput = 1000 / (decodeMs * (1 + slotLoad(node)));
        const c = facts.costAt(slot, node);
        if (!Number.isNaN(c)) {
          sum += c;
          count++;
          const value = valueFor(throughput, c);
          out[i] = value;
          priced[i] = 1;
          if (value > best) best = value;
        } else {
          out[i] = throughput;
          priced[i] = 0;
          if (throughput > fastest && throughput < Number.POSITIVE_INFINITY) fastest = throughput;
        }
      }
      const fallbackCost = count > 0 ? sum / count : 1;
      if (count < n) {
        const value = valueFor(fastest, fallbackCost);
        if (value > best) best = value;
      }
      for (let i = 0; i < n; i++) {
        const v = priced[i] === 1 ? (out[i] as number) : valueFor(out[i] as number, fallbackCost);
        out[i] = best > 0 ? v / best : 1;
      }
    },
    // Branch and bound for the max-score pick, as gpu_aware's (predicted-latency.ts): a node's
    // value is at most its value at no load (the load only divides its throughput further), a
    // bound from its row and price alone; the exact value is computed for the nodes whose bound
    // could beat the best value found before them (so the best value is exact), and for the
    // nodes the picker could pick, tie with or take the lead with. Picks and tie-breaks are
    // score()'s (test/unit/selector/differential.test.ts).
    scoreForMaxPick(request, nodes, n, out, slots, weight, kept) {
      const fleet = env.fleet;
      const table = fleet.table;
      scratch.reserve(n);
      const { bounds, values, costs, rows, exact } = scratch;
      // Rows are bound before the loops read the table's arrays (binding may grow them).
      table.reserve(n);
      const { decodeMsPerToken, decodeRate } = table;
      let best = boundPass(fleet, request.model, table.modelId(request.model), nodes, n, slots, scratch);
      const sum = scratch.sum;
      const count = scratch.count;
      const fallbackCost = count > 0 ? sum / count : 1;
      if (count < n) {
        const perDollar = 1 / Math.max(MIN_COST, fallbackCost);
        for (let i = 0; i < n; i++) {
          if (!Number.isNaN(costs[i] as number)) continue;
          const ix = rows[i] as number;
          const decodeMs = decodeMsPerToken[ix] as number;
          const bound = (decodeRate[ix] as number) * perDollar * boundSlack;
          bounds[i] = bound;
          if (!(bound <= best)) {
            const v = valueFor(1000 / (decodeMs * (1 + slotLoad(nodes[i] as NodeSnapshot))), fallbackCost);
            values[i] = v;
            exact[i] = 1;
            if (v > best) best = v;
          }
        }
      }
      if (!(best > 0)) {
        // Every score is 1 (score()'s rule when no value is positive): all tie.
        for (let i = 0; i < n; i++) {
          out[i] = 1;
          kept[i] = i;
        }
        return n;
      }
      return keepPass(nodes, n, weight, best, fallbackCost, decodeMsPerToken, scratch, out, kept);
    },
  };
}

/** scoreForMaxPick's per-candidate figures (boundPass), reused from call to call. */
class BoundScratch {
  /** Upper bounds on each candidate's value. */
  bounds: Float64Array = new Float64Array(64);
  /** Exact values, where `exact` is 1. */
  values: Float64Array = new Float64Array(64);
  /** Prices ($/h), NaN unpriced. */
  costs: Float64Array = new Float64Array(64);
  /** Table rows. */
  rows: Int32Array = new Int32Array(64);
  exact: Uint8Array = new Uint8Array(64);
  /** Sum and count of the known prices. */
  sum = 0;
  count = 0;

  reserve(n: number): void {
    if (this.rows.length >= n) return;
    const size = Math.max(n, this.rows.length * 2);
    this.bounds = new Float64Array(size);
    this.values = new Float64Array(size);
    this.costs = new Float64Array(size);
    this.rows = new Int32Array(size);
    this.exact = new Uint8Array(size);
  }
}

/**
 * scoreForMaxPick's first pass: every candidate's row, price and value bound, and the exact
 * value of those whose bound beats the best value before them; returns the best value (exact),
 * with the known prices' sum and count in `s`. Unpriced candidates get their bound later.
 *
 * A candidate whose row, hot copy and registration figures are current and whose accounting
 * needs no reconciling takes the inner loop, which calls nothing: V8 then keeps the arrays and
 * their bounds in registers instead of reloading them for every node after a call that could
 * have replaced them. Any other candidate leaves it for the general path (FleetState.indexAt,
 * checkJobs, hotAt, NodeFacts.costAt), in candidate order, and the inner loop resumes after it.
 */
function boundPass(
  fleet: FleetState,
  model: string,
  modelId: number,
  nodes: readonly NodeSnapshot[],
  n: number,
  slots: Int32Array,
  s: BoundScratch,
): number {
  const table = fleet.table;
  const facts = fleet.facts;
  const { bounds, values, costs, rows, exact } = s;
  const { jobs, hotModel, decodeMsPerToken, decodeRate } = table;
  let sum = 0;
  let count = 0;
  let best = 0;
  let i = 0;
  while (i < n) {
    const slotGen = fleet.slotGen;
    const slotIx = fleet.slotIx;
    const genAt = facts.genAt;
    const costPerHour = facts.costPerHour;
    const perDollar = facts.perDollar;
    for (; i < n; i++) {
      const node = nodes[i] as NodeSnapshot;
      const o = node.ordinal;
      const g = node.generation;
      if (!(o !== undefined && o >= 0 && o < slotGen.length && slotGen[o] === g)) break;
      if (!(o < genAt.length && genAt[o] === g)) break;
      const ix = slotIx[o] as number;
      const inFlight = node.inFlight;
      if ((jobs[ix] as number) > inFlight && Number.isFinite(inFlight)) break;
      if (hotModel[ix] !== modelId) break;
      const c = costPerHour[o] as number;
      rows[i] = ix;
      costs[i] = c;
      exact[i] = 0;
      if (Number.isNaN(c)) continue; // unpriced: bounded once the mean price is known
      sum += c;
      count++;
      const bound = (decodeRate[ix] as number) * (perDollar[o] as number) * boundSlack;
      bounds[i] = bound;
      if (!(bound <= best)) {
        const v = valueFor(1000 / ((decodeMsPerToken[ix] as number) * (1 + slotLoad(node))), c);
        values[i] = v;
        exact[i] = 1;
        if (v > best) best = v;
      }
    }
    if (i >= n) break;
    // The general path for node i.
    const node = nodes[i] as NodeSnapshot;
    const slot = slots[i] as number;
    const ix = fleet.indexAt(slot, node);
    fleet.hotAt(ix, modelId, model, false);
    const c = facts.costAt(slot, node);
    const key = cacheKey(slot, node);
    rows[i] = ix;
    costs[i] = c;
    exact[i] = 0;
    if (!Number.isNaN(c)) {
      sum += c;
      count++;
      const bound = (decodeRate[ix] as number) * (facts.perDollar[key] as number) * boundSlack;
      bounds[i] = bound;
      if (!(bound <= best)) {
        const v = valueFor(1000 / ((decodeMsPerToken[ix] as number) * (1 + slotLoad(node))), c);
        values[i] = v;
        exact[i] = 1;
        if (v > best) best = v;
      }
    }
    i++;
  }
  s.sum = sum;
  s.count = count;
  return best;
}

/**
 * scoreForMaxPick's second pass: the candidates the max-score picker could pick, tie with or
 * take the lead with, as it walks them in order, with their exact scores (value ÷ best); the
 * others' bounds trail the picker's running best by more than MAX_SCORE_TIE. Returns how many.
 *
 * The running best only changes at a kept candidate, so the test for the others is one
 * comparison of their bound with a floor derived from it: a bound below the floor means a value,
 * and so a score, below the running best less the tie band (the floor gives up 1e-12 of its
 * value, and the bound's slack adds 1e-9, against a few ulps of rounding in either).
 */
function keepPass(
  nodes: readonly NodeSnapshot[],
  n: number,
  weight: number,
  best: number,
  fallbackCost: number,
  decodeMsPerToken: Float64Array,
  s: BoundScratch,
  out: Float64Array,
  kept: Int32Array,
): number {
  const { bounds, values, costs, rows, exact } = s;
  const tie = maxScoreTie;
  let lead = Number.NEGATIVE_INFINITY; // the picker's running best, as it will see the scores
  let floor = Number.NEGATIVE_INFINITY; // a bound below this cannot reach lead - tie
  let m = 0;
  for (let i = 0; i < n; i++) {
    if ((bounds[i] as number) < floor) continue;
    let v: number;
    if (exact[i] === 1) v = values[i] as number;
    else {
      const c = costs[i] as number;
      const decodeMs = decodeMsPerToken[rows[i] as number] as number;
      const throughput = 1000 / (decodeMs * (1 + slotLoad(nodes[i] as NodeSnapshot)));
      v = valueFor(throughput, Number.isNaN(c) ? fallbackCost : c);
    }
    const score = v / best;
    out[m] = score;
    kept[m++] = i;
    const seen = weight * (score >= 0 ? Math.min(score, 1) : 0); // the runner's clamp (clampScore)
    if (seen > lead + tie) {
      lead = seen;
      floor =
        lead - tie > 0 && weight > 0
          ? ((lead - tie) / weight) * best * (1 - 1e-12)
          : Number.NEGATIVE_INFINITY;
    }
  }
  return m;
}
