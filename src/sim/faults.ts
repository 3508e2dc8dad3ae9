// Fault injection for tests: health flag, failing the next N requests, and stalling new ones.
import type { ServerResponse } from "node:http";
import type { SimStats } from "./metrics.js";
import { SimHttpError } from "./requests.js";

const FIELDS = ["healthy", "fail_next", "fail_status", "stall"];

/** The switches POST /sim/control sets, and the requests a stall is holding. */
export class FaultControl {
  healthy = true;
  failNext = 0;
  failStatus = 500;
  stall = false;
  private readonly held: (() => void)[] = [];

  constructor(private readonly stats: SimStats) {}

  /** Requests held by a stall right now. */
  get stalled(): number {
    return this.held.length;
  }

  /** The switches as /sim/control answers them. */
  toJson(): { healthy: boolean; fail_next: number; fail_status: number; stall: boolean } {
    return {
      healthy: this.healthy,
      fail_next: this.failNext,
      fail_status: this.failStatus,
      stall: this.stall,
    };
  }

  /** Validates and applies a /sim/control body; unstalling releases held requests in arrival order. */
  apply(raw: unknown): void {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      throw new SimHttpError(400, "Request body must be a JSON object.");
    }
    const body = raw as Record<string, unknown>;
    // Strict on purpose: a typo in a test's control call should fail loudly, not be ignored.
    for (const key of Object.keys(body)) {
      if (!FIELDS.includes(key)) throw new SimHttpError(400, `Unknown control field \`${key}\`.`, key);
    }
    const { healthy, fail_next: failNext, fail_status: failStatus, stall } = body;
    if (healthy !== undefined && typeof healthy !== "boolean") {
      throw new SimHttpError(400, "`healthy` must be a boolean.", "healthy");
    }
    if (stall !== undefined && typeof stall !== "boolean") {
      throw new SimHttpError(400, "`stall` must be a boolean.", "stall");
    }
    if (
      failNext !== undefined &&
      !(typeof failNext === "number" && Number.isInteger(failNext) && failNext >= 0)
    ) {
      throw new SimHttpError(400, "`fail_next` must be an integer >= 0.", "fail_next");
    }
    if (
      failStatus !== undefined &&
      !(
        typeof failStatus === "number" &&
        Number.isInteger(failStatus) &&
        failStatus >= 400 &&
        failStatus <= 599
      )
    ) {
      throw new SimHttpError(400, "`fail_status` must be an HTTP error status (400-599).", "fail_status");
    }
    if (healthy !== undefined) this.healthy = healthy;
    if (failNext !== undefined) this.failNext = failNext;
    if (failStatus !== undefined) this.failStatus = failStatus;
    if (stall !== undefined) {
      this.stall = stall;
      if (!stall) for (const release of this.held.splice(0)) release();
    }
  }

  /**
   * Gate for an inference request: throws the injected error while fail_next lasts; while stalled,
   * holds the request with no bytes sent. Resolves false when the client gave up while held.
   */
  async admit(res: ServerResponse): Promise<boolean> {
    if (this.failNext > 0) {
      this.failNext--;
      this.stats.failed++;
      throw new SimHttpError(this.failStatus, `Injected failure (sim fail_next, status ${this.failStatus}).`);
    }
    if (!this.stall) return true;
    return new Promise<boolean>((resolve) => {
      const release = (): void => {
        res.off("close", onClose);
        resolve(true);
      };
      const onClose = (): void => {
        const i = this.held.indexOf(release);
        if (i >= 0) this.held.splice(i, 1);
        this.stats.cancelled++;
        resolve(false);
      };
      res.on("close", onClose);
      this.held.push(release);
    });
  }
}
