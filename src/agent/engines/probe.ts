import type { EngineLive } from "../../nodes/types.js";
import { type EngineHttp, EngineHttpError, reason } from "./engine-http.js";
import type { EngineProbe } from "./types.js";

/** The load figures of a probe, without health. */
export type EngineSignals = Omit<EngineLive, "healthy">;

/** What one probe asks of an engine. */
export interface ProbePlan {
  /** Path that answers 2xx when the engine can serve. */
  healthPath: string;
  /** Reads load signals (may make its own requests); a throw becomes a note, health stays as is. */
  signals?: () => Promise<{ signals: EngineSignals; note?: string }>;
  /** Turns a non-2xx health answer into a note (e.g. llama.cpp's "Loading model"). */
  describeUnhealthy?: (status: number, body: string) => string;
}

/**
 * Runs the health check and the signal scrape in parallel. Health decides `healthy`; a scrape that
 * fails on a healthy engine only adds a note (llama.cpp's /metrics can time out under load while
 * /health answers in ms, so a slow scrape must not mark the node down). Never throws.
 */
export async function probeEngine(http: EngineHttp, plan: ProbePlan): Promise<EngineProbe> {
  const [health, scrape] = await Promise.allSettled([
    http.get(plan.healthPath),
    plan.signals
      ? plan.signals()
      : Promise.resolve<{ signals: EngineSignals; note?: string }>({ signals: {} }),
  ]);
  if (health.status === "rejected") {
    // SGLang's /health generates a token, so a saturated engine can miss the deadline while its
    // /metrics answers: that is busy, not down.
    const slow = health.reason instanceof EngineHttpError && health.reason.code === "timeout";
    if (slow && scrape.status === "fulfilled") {
      return { healthy: true, ...scrape.value.signals, note: `health check slow: ${reason(health.reason)}` };
    }
    return { healthy: false, note: `${slow ? "" : "unreachable: "}${reason(health.reason)}` };
  }
  const { status, body } = health.value;
  if (status < 200 || status >= 300) {
    const why =
      plan.describeUnhealthy?.(status, body) ?? `HTTP ${status} ${body.trim().slice(0, 200)}`.trim();
    return { healthy: false, note: `unhealthy: ${why}` };
  }
  if (scrape.status === "rejected")
    return { healthy: true, note: `no load signals: ${reason(scrape.reason)}` };
  return { healthy: true, ...scrape.value.signals, note: scrape.value.note ?? "" };
}
