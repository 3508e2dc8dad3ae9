import {
  createFairQueue,
  type FairQueue,
  type FairQueueOptions,
  type QueueItem,
} from "../../../src/queue/index.js";
import { createSeededRng } from "../../../src/util/rng.js";

/** A queue item for tests; cost and time default to 1 and 0. */
export function item(id: string, userId: string, model = "m", cost = 1, enqueuedAtMs = 0): QueueItem {
  return { id, userId, model, cost, enqueuedAtMs };
}

/** canServe that accepts every model. */
export const anyModel = (): boolean => true;

/** A queue with roomy bounds unless overridden. */
export function makeQueue(
  policy: FairQueueOptions["policy"],
  overrides: Partial<FairQueueOptions> = {},
): FairQueue<QueueItem> {
  return createFairQueue<QueueItem>({ policy, maxPerUser: 1_000_000, maxTotal: 1_000_000, ...overrides });
}

/** Pop until empty (or nothing servable) and return the ids in pop order. */
export function drainIds(q: FairQueue<QueueItem>, canServe: (model: string) => boolean = anyModel): string[] {
  const ids: string[] = [];
  for (let it = q.pop(canServe); it !== undefined; it = q.pop(canServe)) ids.push(it.id);
  return ids;
}

/** A seeded PRNG (mulberry32) returning floats in [0, 1). */
export const prng = createSeededRng;
