import type { NodeSnapshot } from "../../nodes/types.js";
import type { Picker } from "../pipeline.js";
import type { PluginEnv } from "../plugin-kit.js";
import type { FleetState } from "../state/fleet-state.js";

/**
 * Seed 004 weighted_round_robin, as nginx's smooth weighted round robin: every pick adds each
 * candidate's weight to its running weight, takes the largest and subtracts the total from it.
 * Over any window a node gets its weight's share, interleaved (3:1 gives A A B A, not A A A B).
 * Weights come from `nodeWeight` (VRAM class × cheap-price bonus), cached per candidate position
 * as registration facts. Running weights live in the strategy's fleet state, so a removed
 * node's entry goes with it.
 */
export function createWeightedRoundRobinPicker(_params: unknown, env: PluginEnv): Picker {
  return {
    name: "weighted-round-robin",
    usesScores: false,
    pick(_request, nodes, n, _scores, _rng, slots) {
      return pickSmooth(env.fleet, nodes, n, slots);
    },
  };
}

/**
 * One smooth-WRR step over the first n nodes; returns the index picked (-1 for none).
 *
 * A node whose row and registration figures are bound by ordinal and current, and whose
 * accounting needs no reconciling, takes the inner loop, which calls nothing (V8 then keeps the
 * arrays in registers instead of reloading them after every call that could have replaced
 * them); any other leaves it for the general path (FleetState.indexAt, NodeFacts.weightAt), in
 * candidate order, and the loop resumes after it.
 */
function pickSmooth(fleet: FleetState, nodes: readonly NodeSnapshot[], n: number, slots: Int32Array): number {
  const facts = fleet.facts;
  const table = fleet.table;
  // At most n records are created below: room for them first, so the arrays stay the table's.
  table.reserve(n);
  const { jobs, swrr } = table;
  let total = 0;
  let best = -1;
  let bestCurrent = Number.NEGATIVE_INFINITY;
  let bestIx = -1;
  let i = 0;
  while (i < n) {
    const slotGen = fleet.slotGen;
    const slotIx = fleet.slotIx;
    const genAt = facts.genAt;
    const weights = facts.weight;
    for (; i < n; i++) {
      const node = nodes[i] as NodeSnapshot;
      const o = node.ordinal;
      const g = node.generation;
      if (!(o !== undefined && o >= 0 && o < slotGen.length && slotGen[o] === g)) break;
      if (!(o < genAt.length && genAt[o] === g)) break;
      const ix = slotIx[o] as number;
      const inFlight = node.inFlight;
      if ((jobs[ix] as number) > inFlight && Number.isFinite(inFlight)) break;
      const weight = weights[o] as number;
      const current = (swrr[ix] as number) + weight;
      swrr[ix] = current;
      total += weight;
      if (current > bestCurrent) {
        bestCurrent = current;
        best = i;
        bestIx = ix;
      }
    }
    if (i >= n) break;
    const node = nodes[i] as NodeSnapshot;
    const slot = slots[i] as number;
    const ix = fleet.indexAt(slot, node);
    const weight = facts.weightAt(slot, node);
    const current = (swrr[ix] as number) + weight;
    swrr[ix] = current;
    total += weight;
    if (current > bestCurrent) {
      bestCurrent = current;
      best = i;
      bestIx = ix;
    }
    i++;
  }
  if (bestIx >= 0) swrr[bestIx] = (swrr[bestIx] as number) - total;
  return best;
}
