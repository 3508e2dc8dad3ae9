import * as hdr from "hdr-histogram-js";
import { type Dispatcher, Pool } from "undici";
import { sseData } from "../../src/agent/sse-reader.js";
import { createSeededRng } from "../../src/util/rng.js";

/** Percentiles of one measured series (ms). */
export interface Percentiles {
  p50: number;
  p99: number;
}

/** A latency recorder in microseconds with millisecond percentiles. */
export function recorder() {
  const h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
  });
  return {
    record(ms: number) {
      h.recordValue(Math.max(1, Math.round(ms * 1000)));
    },
    get count() {
      return h.totalCount;
    },
    percentiles(): Percentiles {
      return { p50: h.getValueAtPercentile(50) / 1000, p99: h.getValueAtPercentile(99) / 1000 };
    },
    destroy() {
      h.destroy();
    },
  };
}

/** Outcome of one streamed chat request. */
export interface StreamOutcome {
  ok: boolean;
  status: number;
  ttftMs?: number;
  e2eMs: number;
  completionTokens: number;
  node?: string;
}

/** Sends one streamed chat completion and times its first token and its end. */
export async function streamChat(
  pool: Dispatcher,
  headers: Record<string, string>,
  body: object,
): Promise<StreamOutcome> {
  const t0 = performance.now();
  try {
    const res = await pool.request({
      path: "/v1/chat/completions",
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
    });
    if (res.statusCode !== 200) {
      await res.body.arrayBuffer();
      return { ok: false, status: res.statusCode, e2eMs: performance.now() - t0, completionTokens: 0 };
    }
    let ttft: number | undefined;
    let tokens = 0;
    let failed = false;
    for await (const data of sseData(res.body)) {
      if (data === "[DONE]") break;
      const j = JSON.parse(data) as {
        choices?: { delta?: { content?: string } }[];
        usage?: { completion_tokens?: number };
        error?: unknown;
      };
      if (j.error) failed = true;
      if (ttft === undefined && j.choices?.[0]?.delta?.content) ttft = performance.now() - t0;
      if (j.usage?.completion_tokens) tokens = j.usage.completion_tokens;
    }
    const node = res.headers["x-llmlb-node"];
    return {
      ok: !failed,
      status: 200,
      ...(ttft !== undefined ? { ttftMs: ttft } : {}),
      e2eMs: performance.now() - t0,
      completionTokens: tokens,
      ...(typeof node === "string" ? { node } : {}),
    };
  } catch {
    return { ok: false, status: 0, e2eMs: performance.now() - t0, completionTokens: 0 };
  }
}

/** A keep-alive pool sized for a benchmark. */
export function pool(url: string, connections = 512): Pool {
  return new Pool(url, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    bodyTimeout: 0,
    headersTimeout: 0,
  });
}

/** A seeded PRNG (mulberry32) returning floats in [0, 1). */
export const seeded = createSeededRng;

/** Median of a list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}
