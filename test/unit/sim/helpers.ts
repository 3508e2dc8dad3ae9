// Small HTTP helpers for the simulator tests: real fetch against a real server, no mocks.
import { setTimeout as sleep } from "node:timers/promises";

/** POSTs JSON and returns the raw Response. */
export function postJson(url: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...(signal !== undefined ? { signal } : {}),
  });
}

/** GETs and parses JSON. */
export async function getJson<T = Record<string, unknown>>(url: string): Promise<T> {
  const res = await fetch(url);
  return (await res.json()) as T;
}

/** The simulator's /sim/state, as the tests read it. */
export interface SimState {
  running: number;
  waiting: number;
  stalled: number;
  kv_cache_usage: number;
  kv_blocks_total: number;
  completed: number;
  cancelled: number;
  failed: number;
  preemptions: number;
  prefix_cache_queries: number;
  prefix_cache_hits: number;
  healthy: boolean;
  instant: boolean;
}

/** Reads /sim/state. */
export function simState(base: string): Promise<SimState> {
  return getJson<SimState>(`${base}/sim/state`);
}

/** Polls until `check` holds; throws after `timeoutMs` (a safety net, not a timing assertion). */
export async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not reached");
    await sleep(5);
  }
}

/** A parsed SSE stream: every `data:` payload in order and the raw text. */
export interface SseResult {
  raw: string;
  data: string[];
  json: Record<string, unknown>[];
}

/** Reads a whole SSE body and splits it into events. */
export async function readSse(res: Response): Promise<SseResult> {
  const raw = await res.text();
  const events = raw.split("\n\n").filter((e) => e.length > 0);
  const data = events.map((e) => {
    if (!e.startsWith("data: ")) throw new Error(`not an SSE data event: ${JSON.stringify(e)}`);
    return e.slice("data: ".length);
  });
  const json = data.filter((d) => d !== "[DONE]").map((d) => JSON.parse(d) as Record<string, unknown>);
  return { raw, data, json };
}

/** A chat request body for the default served model. */
export function chat(content: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { messages: [{ role: "user", content }], ...extra };
}

/** Token counts as the simulator reports them. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

/** A choice of any OpenAI response kind (chat message, text, or stream delta): a loose test view. */
export interface Choice {
  index: number;
  message: { role: string; content: string };
  text: string;
  delta: { role?: string; content?: string };
  finish_reason: string | null;
}

/** A chat or text completion, or one stream chunk of either. */
export interface Completion {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: [Choice, ...Choice[]];
  usage: Usage;
}

/** A stream chunk: usage is absent, null, or (in the include_usage chunk) the totals. */
export type Chunk = Omit<Completion, "usage"> & { usage?: Usage | null };

/** An /v1/embeddings answer. */
export interface Embeddings {
  object: string;
  data: [
    { object: string; index: number; embedding: number[] | string },
    ...{ object: string; index: number; embedding: number[] | string }[],
  ];
  usage: Usage;
}

/** GET /v1/models. */
export interface ModelList {
  object: string;
  data: [
    { id: string; object: string; created: number; owned_by: string; root: string; max_model_len: number },
  ];
}
