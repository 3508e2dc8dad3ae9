import { IndexedHeap } from "./heap.js";
import { createQueuePolicy, isQueuePolicyName, QUEUE_POLICY_NAMES } from "./policies/index.js";
import type {
  AdmitResult,
  FairQueue,
  FairQueueOptions,
  QueueDebugCounts,
  QueueItem,
  QueueSnapshot,
} from "./types.js";

/*
 * Layout. Items live in (user, model) FIFOs ("lanes", doubly linked so remove is O(1)). Each model
 * keeps a heap of its lanes ordered by their user's (key, stamp); a global heap of users gives the
 * smallest key for the VTC lift. pop() asks canServe once per model that has waiting items, takes
 * the best user among the servable models' heap tops, then that user's oldest item among its
 * servable lanes. Deployments serve a handful of distinct models, so O(models) per pop is cheap,
 * and an item whose model no node serves never blocks anyone (no head-of-line blocking).
 */

interface UserQueue<T extends QueueItem> {
  readonly userId: string;
  /** Policy key: 0 for round robin, the virtual counter for weighted / VTC. */
  key: number;
  /** Tie-break renewed when the user starts waiting or is served: the ring order of round robin. */
  stamp: number;
  depth: number;
  heapIndex: number;
  readonly lanes: Map<string, Lane<T>>;
}

interface ModelQueue<T extends QueueItem> {
  readonly model: string;
  readonly lanes: IndexedHeap<Lane<T>>;
  /** pop() epoch in which canServe(model) last answered true; avoids allocating a set per pop. */
  servableEpoch: number;
}

interface Lane<T extends QueueItem> {
  readonly user: UserQueue<T>;
  readonly model: ModelQueue<T>;
  head: Entry<T> | undefined;
  tail: Entry<T> | undefined;
  size: number;
  heapIndex: number;
}

interface Entry<T extends QueueItem> {
  readonly item: T;
  /** Position in the user's FIFO across models: pushFront counts down from 0, push counts up. */
  readonly seq: number;
  readonly lane: Lane<T>;
  prev: Entry<T> | undefined;
  next: Entry<T> | undefined;
}

/**
 * How many users' last-service stamps the core remembers. A user who starts waiting again takes
 * back the stamp of its last service, so the ring orders users by least recently served: a client
 * with one request at a time, idle only for the moment between two requests, then goes before users
 * served since, instead of joining behind them each time and getting every other slot at best. A
 * user forgotten (not served among the last this-many distinct users) joins at the back like a
 * newcomer, as before. Bounded memory; one request's head start at most, since a pop renews it.
 */
const REMEMBERED_SERVICES = 4096;

const userBefore = <T extends QueueItem>(a: UserQueue<T>, b: UserQueue<T>): boolean =>
  a.key < b.key || (a.key === b.key && a.stamp < b.stamp);

function checkBound(name: string, n: number): void {
  // Infinity is allowed (unbounded); NaN or negative would reject or admit everything silently.
  if (!(n >= 0)) throw new RangeError(`FairQueue: ${name} must be >= 0, got ${n}`);
}

/** Create a per-user fair queue running the named policy. */
export function createFairQueue<T extends QueueItem>(opts: FairQueueOptions): FairQueue<T> {
  if (!isQueuePolicyName(opts.policy)) {
    throw new RangeError(
      `FairQueue: unknown policy ${String(opts.policy)} (one of ${QUEUE_POLICY_NAMES.join(", ")})`,
    );
  }
  checkBound("maxPerUser", opts.maxPerUser);
  checkBound("maxTotal", opts.maxTotal);
  const { maxPerUser, maxTotal } = opts;
  const now = opts.now ?? Date.now;
  const policy = createQueuePolicy(opts.policy, opts.weightOf ?? (() => 1));

  const entries = new Map<string, Entry<T>>();
  const users = new Map<string, UserQueue<T>>();
  const userHeap = new IndexedHeap<UserQueue<T>>(userBefore);
  const models = new Map<string, ModelQueue<T>>();
  let stampSeq = 0;
  /** User → stamp of its last service, oldest first (Map insertion order). */
  const lastServed = new Map<string, number>();
  let backSeq = 0;
  let frontSeq = 0;
  let epoch = 0;

  const laneBefore = (a: Lane<T>, b: Lane<T>): boolean => userBefore(a.user, b.user);

  /** The user's key or stamp changed: fix its place in the user heap and in every model it waits in. */
  const reposition = (u: UserQueue<T>): void => {
    userHeap.update(u);
    for (const lane of u.lanes.values()) lane.model.lanes.update(lane);
  };

  const startWaiting = (userId: string): UserQueue<T> => {
    const key = policy.backlogged(userId, userHeap.peek()?.key);
    let stamp = lastServed.get(userId);
    if (stamp === undefined) {
      stampSeq += 1;
      stamp = stampSeq;
    }
    const u: UserQueue<T> = { userId, key, stamp, depth: 0, heapIndex: -1, lanes: new Map() };
    users.set(userId, u);
    userHeap.push(u);
    return u;
  };

  const rememberService = (userId: string, stamp: number): void => {
    lastServed.delete(userId); // re-insert: the map stays ordered by service
    lastServed.set(userId, stamp);
    if (lastServed.size > REMEMBERED_SERVICES) {
      const oldest = lastServed.keys().next().value;
      if (oldest !== undefined) lastServed.delete(oldest);
    }
  };

  /**
   * One of the user's items was dispatched: charge it, stamp the service, and either re-place the
   * user (`stillWaiting`, it has more items) or tell the policy it has nothing left waiting.
   */
  const served = (item: T, stillWaiting: UserQueue<T> | undefined): void => {
    const key = policy.dispatched(item.userId, item.cost);
    stampSeq += 1;
    rememberService(item.userId, stampSeq);
    if (stillWaiting === undefined) {
      policy.idle(item.userId);
      return;
    }
    stillWaiting.key = key;
    stillWaiting.stamp = stampSeq;
    reposition(stillWaiting);
  };

  const laneOf = (u: UserQueue<T>, model: string): Lane<T> => {
    let lane = u.lanes.get(model);
    if (lane !== undefined) return lane;
    let m = models.get(model);
    if (m === undefined) {
      m = { model, lanes: new IndexedHeap<Lane<T>>(laneBefore), servableEpoch: 0 };
      models.set(model, m);
    }
    lane = { user: u, model: m, head: undefined, tail: undefined, size: 0, heapIndex: -1 };
    u.lanes.set(model, lane);
    m.lanes.push(lane);
    return lane;
  };

  const assertNew = (item: T): void => {
    // A duplicate id would orphan the first entry in the index: a scheduler bug, so fail loudly.
    if (entries.has(item.id)) throw new Error(`FairQueue: item ${item.id} is already queued`);
  };

  /** Unlink an entry and drop every structure it leaves empty. Returns whether its user went idle. */
  const unlink = (e: Entry<T>): boolean => {
    const lane = e.lane;
    if (e.prev === undefined) lane.head = e.next;
    else e.prev.next = e.next;
    if (e.next === undefined) lane.tail = e.prev;
    else e.next.prev = e.prev;
    e.prev = undefined;
    e.next = undefined;
    lane.size -= 1;
    entries.delete(e.item.id);
    const u = lane.user;
    u.depth -= 1;
    if (lane.size === 0) {
      lane.model.lanes.remove(lane);
      u.lanes.delete(lane.model.model);
      if (lane.model.lanes.size === 0) models.delete(lane.model.model);
    }
    if (u.depth > 0) return false;
    userHeap.remove(u);
    users.delete(u.userId);
    return true;
  };

  return {
    push(item) {
      assertNew(item);
      // The user's own bound first: it names the cause when one user is flooding a full queue.
      if ((users.get(item.userId)?.depth ?? 0) >= maxPerUser) return { ok: false, reason: "user_queue_full" };
      if (entries.size >= maxTotal) return { ok: false, reason: "queue_full" };
      const u = users.get(item.userId) ?? startWaiting(item.userId);
      const lane = laneOf(u, item.model);
      backSeq += 1;
      const e: Entry<T> = { item, seq: backSeq, lane, prev: lane.tail, next: undefined };
      if (lane.tail === undefined) lane.head = e;
      else lane.tail.next = e;
      lane.tail = e;
      lane.size += 1;
      u.depth += 1;
      entries.set(item.id, e);
      return { ok: true } satisfies AdmitResult;
    },

    pushFront(item) {
      assertNew(item);
      // Undo the dispatch charge first, then lift: the other order would refund below the lift floor.
      const key = policy.requeued(item.userId, item.cost);
      let u = users.get(item.userId);
      if (u === undefined) {
        u = startWaiting(item.userId);
      } else if (u.key !== key) {
        // Keep the stamp: a re-queued job should not also cost its user its place in the ring.
        u.key = key;
        reposition(u);
      }
      const lane = laneOf(u, item.model);
      frontSeq -= 1;
      const e: Entry<T> = { item, seq: frontSeq, lane, prev: undefined, next: lane.head };
      if (lane.head === undefined) lane.tail = e;
      else lane.head.prev = e;
      lane.head = e;
      lane.size += 1;
      u.depth += 1;
      entries.set(item.id, e);
    },

    remove(id) {
      const e = entries.get(id);
      if (e === undefined) return undefined;
      if (unlink(e)) policy.idle(e.item.userId);
      return e.item;
    },

    pop(canServe) {
      epoch += 1;
      let best: Lane<T> | undefined;
      for (const m of models.values()) {
        if (!canServe(m.model)) continue;
        m.servableEpoch = epoch;
        const top = m.lanes.peek();
        if (top !== undefined && (best === undefined || userBefore(top.user, best.user))) best = top;
      }
      if (best === undefined) return undefined;
      // The chosen user's oldest servable item, across the models it waits in.
      const u = best.user;
      let lane = best;
      for (const l of u.lanes.values()) {
        if (l.model.servableEpoch === epoch && (l.head?.seq ?? Infinity) < (lane.head?.seq ?? Infinity))
          lane = l;
      }
      const e = lane.head as Entry<T>;
      const wentIdle = unlink(e);
      served(e.item, wentIdle ? undefined : u);
      return e.item;
    },

    dispatchedDirectly(item) {
      const waiting = users.get(item.userId);
      if (waiting === undefined) policy.backlogged(item.userId, userHeap.peek()?.key);
      served(item, waiting);
    },

    charge(userId, tokens) {
      const key = policy.charge(userId, tokens);
      const u = users.get(userId);
      if (u !== undefined && u.key !== key) {
        u.key = key;
        reposition(u);
      }
    },

    get size() {
      return entries.size;
    },

    sizeOf(userId) {
      return users.get(userId)?.depth ?? 0;
    },

    has(id) {
      return entries.has(id);
    },

    snapshot() {
      const t = now();
      let oldest = 0;
      const out: QueueSnapshot["users"] = [];
      for (const u of users.values()) {
        let userOldest = 0;
        const byModel: [string, number][] = [];
        for (const lane of u.lanes.values()) {
          byModel.push([lane.model.model, lane.size]);
          // Scan every item: enqueuedAtMs is the caller's, so the head need not be the oldest.
          for (let e = lane.head; e !== undefined; e = e.next) {
            userOldest = Math.max(userOldest, t - e.item.enqueuedAtMs);
          }
        }
        byModel.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
        oldest = Math.max(oldest, userOldest);
        out.push({
          userId: u.userId,
          depth: u.depth,
          byModel: Object.fromEntries(byModel),
          oldestWaitMs: userOldest,
        });
      }
      out.sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
      return { total: entries.size, users: out, oldestWaitMs: oldest };
    },

    debugCounts() {
      let lanes = 0;
      for (const m of models.values()) lanes += m.lanes.size;
      const counts: QueueDebugCounts = {
        items: entries.size,
        users: users.size,
        userHeap: userHeap.size,
        lanes,
        models: models.size,
        policyAccounts: policy.accounts(),
      };
      return counts;
    },
  };
}
