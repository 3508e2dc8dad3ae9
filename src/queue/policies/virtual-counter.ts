import type { QueuePolicyName } from "../types.js";
import { type QueuePolicy, sanitizeTokens, sanitizeWeight } from "./policy.js";

/** Parameters of the virtual-counter engine shared by the weighted and VTC policies. */
export interface VirtualCounterOptions {
  readonly name: Extract<QueuePolicyName, "weighted" | "vtc">;
  readonly weightOf: (userId: string) => number;
  /** What one dispatch charges, given the item's estimated cost: 1 for weighted, the estimate for VTC. */
  readonly dispatchCost: (estimate: number) => number;
  /** Whether charge() settles dispatch estimates against actual tokens (VTC only). */
  readonly settles: boolean;
}

interface Account {
  counter: number;
  backlogged: boolean;
  /** Dispatch charges not yet settled by charge(), in tokens (weight applied at settle time). */
  outstandingSum: number;
  outstandingCount: number;
  /** Counter step of the user's last dispatch: the credit it keeps across a gap (one request's worth). */
  lastStep: number;
}

// Sweeping idle accounts every max(this, accounts) operations keeps the sweep amortised O(1).
const MIN_SWEEP_INTERVAL = 64;

/**
 * Virtual counters (stride scheduling / VTC): each user's key grows by service / weight and the
 * smallest key is served next. A user who starts waiting is lifted to
 * L = max(V, min key among waiting users), where V is the largest pre-dispatch counter any dispatch
 * has had. The min alone is what the VTC paper uses; V is added because a user whose model no node
 * serves can wait with a low counter for a long time, and must not let newcomers arrive with credit.
 *
 * A user the policy still remembers (served recently) is lifted to L − C instead, where C is the
 * counter step of its own last dispatch: it keeps at most one request of credit across the gap
 * between two of its requests, as CFS places a waking task at min_vruntime − latency/2. Without
 * it a client with one request at a time is "idle" for the millisecond between its requests, is
 * lifted level with the heavy users each time, and loses the slot its own job just freed to them.
 * One request is the same bound the paper proves between backlogged users, so the credit cannot
 * be banked. Records whose counter is <= V − C are dropped (sweep): such a user would be lifted to
 * at least L − C anyway; it comes back as a new user, level with V. Counters above that are kept,
 * so idling cannot shed a debt.
 */
export function createVirtualCounterPolicy(opts: VirtualCounterOptions): QueuePolicy {
  const accounts = new Map<string, Account>();
  let v = 0;
  let opsSinceSweep = 0;

  const weight = (userId: string): number => sanitizeWeight(opts.weightOf(userId));

  const account = (userId: string): Account => {
    let a = accounts.get(userId);
    if (a === undefined) {
      // A new or forgotten user starts level with V, without credit.
      a = { counter: v, backlogged: false, outstandingSum: 0, outstandingCount: 0, lastStep: 0 };
      accounts.set(userId, a);
    }
    return a;
  };

  const tick = (): void => {
    opsSinceSweep += 1;
    if (opsSinceSweep < Math.max(MIN_SWEEP_INTERVAL, accounts.size)) return;
    opsSinceSweep = 0;
    for (const [userId, a] of accounts) {
      if (!a.backlogged && a.outstandingCount === 0 && a.counter <= v - a.lastStep) accounts.delete(userId);
    }
  };

  const settleOne = (a: Account): number => {
    // charge() carries no job id, so it settles the mean outstanding estimate; once every dispatched
    // job is charged the outstanding sum is exactly consumed, whatever order the jobs finished in.
    const est = a.outstandingSum / a.outstandingCount;
    a.outstandingCount -= 1;
    a.outstandingSum = a.outstandingCount === 0 ? 0 : a.outstandingSum - est;
    return est;
  };

  return {
    name: opts.name,
    backlogged(userId, minWaiting) {
      const known = accounts.has(userId);
      const a = account(userId);
      const floor = minWaiting === undefined ? v : Math.max(v, minWaiting);
      a.counter = Math.max(a.counter, known ? floor - a.lastStep : floor);
      a.backlogged = true;
      return a.counter;
    },
    dispatched(userId, estimate) {
      const a = account(userId);
      v = Math.max(v, a.counter);
      const c = opts.dispatchCost(sanitizeTokens(estimate));
      const step = c / weight(userId);
      a.lastStep = step;
      a.counter += step;
      if (opts.settles) {
        a.outstandingSum += c;
        a.outstandingCount += 1;
      }
      tick();
      return a.counter;
    },
    requeued(userId, estimate) {
      const a = accounts.get(userId);
      if (a === undefined) return v;
      // Only a dispatch that has not been settled can be undone; otherwise a stray pushFront would mint credit.
      if (opts.settles && a.outstandingCount === 0) return a.counter;
      const c = opts.settles ? settleOne(a) : opts.dispatchCost(sanitizeTokens(estimate));
      a.counter -= c / weight(userId);
      return a.counter;
    },
    idle(userId) {
      const a = accounts.get(userId);
      if (a !== undefined) a.backlogged = false;
      tick();
    },
    charge(userId, tokens) {
      if (!opts.settles) return accounts.get(userId)?.counter ?? v;
      const a = account(userId);
      const actual = sanitizeTokens(tokens);
      const est = a.outstandingCount > 0 ? settleOne(a) : 0;
      a.counter += (actual - est) / weight(userId);
      tick();
      return a.counter;
    },
    accounts: () => accounts.size,
  };
}
