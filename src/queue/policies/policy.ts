import type { QueuePolicyName } from "../types.js";

/**
 * How a policy orders users. The queue core keeps, per user, a numeric key from the policy plus a
 * stamp it renews whenever the user starts waiting or is served; the user with the smallest
 * (key, stamp) goes next. Round robin keeps every key at 0, so the stamp alone makes a ring;
 * weighted and VTC keep a virtual counter per user as the key.
 */
export interface QueuePolicy {
  readonly name: QueuePolicyName;
  /** The user starts waiting; `minWaiting` is the smallest key among users already waiting. Returns its key. */
  backlogged(userId: string, minWaiting: number | undefined): number;
  /** One of the user's items was dispatched with this estimated cost; returns the user's new key. */
  dispatched(userId: string, cost: number): number;
  /** A dispatched item came back through pushFront: undo its dispatch charge; returns the user's new key. */
  requeued(userId: string, cost: number): number;
  /** The user has nothing left waiting. */
  idle(userId: string): void;
  /** Actual tokens of a served request; returns the user's new key. */
  charge(userId: string, tokens: number): number;
  /** Per-user records the policy keeps, idle users included. */
  accounts(): number;
}

/** Clamp a caller-supplied weight: a NaN or zero weight would make counters NaN or infinite. */
export function sanitizeWeight(w: number): number {
  return Number.isFinite(w) && w > 0 ? w : 1;
}

/** Clamp a token amount: negative or non-finite costs would let a user buy priority. */
export function sanitizeTokens(t: number): number {
  return Number.isFinite(t) && t > 0 ? t : 0;
}
