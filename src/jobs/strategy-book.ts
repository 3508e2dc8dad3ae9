import { LbError } from "../errors.js";
import type { JobOutcome } from "../nodes/types.js";
import { createStrategy, STRATEGY_NAMES, type StrategyParams } from "../selector/registry.js";
import type { SelectionRequest, Strategy } from "../selector/types.js";

/**
 * Holds one instance of every strategy, the current one, and fans job events out to all of them:
 * switching strategy at runtime then keeps what each has learned and loses no request.
 */
export class StrategyBook {
  private readonly instances = new Map<string, Strategy>();
  private currentName: string;

  constructor(initial: string, params: StrategyParams) {
    for (const name of STRATEGY_NAMES) this.instances.set(name, createStrategy(name, params));
    this.currentName = this.resolve(initial).name;
  }

  /** The current strategy's name. */
  get current(): string {
    return this.currentName;
  }

  /** Every valid strategy name. */
  get names(): readonly string[] {
    return STRATEGY_NAMES;
  }

  /** Switches the default strategy; unknown names throw a 400 listing the valid ones. */
  set(name: string): void {
    this.currentName = this.resolve(name).name;
  }

  /** The strategy for a request: its override when given, else the current one. */
  resolve(name: string | undefined): Strategy {
    const s = this.instances.get(name ?? this.currentName);
    if (!s) {
      throw new LbError(
        "invalid_request",
        `Unknown strategy ${JSON.stringify(name)}; valid: ${STRATEGY_NAMES.join(", ")}`,
        {
          param: "strategy",
        },
      );
    }
    return s;
  }

  onDispatch(request: SelectionRequest, nodeId: string): void {
    for (const s of this.instances.values()) s.onDispatch?.(request, nodeId);
  }

  onOutcome(outcome: JobOutcome): void {
    for (const s of this.instances.values()) s.onOutcome?.(outcome);
  }

  onNodeRemoved(nodeId: string): void {
    for (const s of this.instances.values()) s.onNodeRemoved?.(nodeId);
  }
}
