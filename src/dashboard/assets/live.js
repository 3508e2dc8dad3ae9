// The live fleet state, fed by GET /v0/events. EventSource cannot send an Authorization header, so
// the stream is read with fetch() and parsed here; the JWT stays in a header, out of every URL.
import { authHeaders, logout } from "./api.js";

const NODE_HISTORY = 120;
const FLEET_HISTORY = 120;

/** What the views read; replaced wholesale on every snapshot. */
export const live = {
  nodes: new Map(),
  /** node id → [{t, gpu, vram, kv, active, running, waiting, avg}] (seeded by the detail view). */
  history: new Map(),
  fleet: null,
  fleetHistory: [],
  strategy: null,
  strategies: [],
  status: "idle",
  /** Bumped on every change, so views can skip work when nothing moved. */
  version: 0,
};

const listeners = new Set();

/** Calls fn(kind, detail) on "snapshot", "nodes" (detail: ids), "fleet" and "status" changes. */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit(kind, detail) {
  live.version++;
  for (const fn of listeners) fn(kind, detail);
}

function setStatus(s) {
  if (live.status === s) return;
  live.status = s;
  emit("status");
}

/** A history point from a node as the API shows it. */
export function pointOf(n, t = Date.now()) {
  return {
    t,
    gpu: n.gpu_usage,
    vram: n.vram_usage,
    kv: n.kv_cache_usage === null ? null : n.kv_cache_usage * 100,
    active: n.active_requests,
    running: n.engine?.running_requests ?? null,
    waiting: n.engine?.waiting_requests ?? null,
    avg: n.avg_response_time_ms,
  };
}

function record(n) {
  live.nodes.set(n.id, n);
  let h = live.history.get(n.id);
  if (!h) {
    h = [];
    live.history.set(n.id, h);
  }
  h.push(pointOf(n));
  if (h.length > NODE_HISTORY) h.shift();
}

function handle(event, data) {
  if (event === "snapshot") {
    live.nodes = new Map();
    for (const n of data.nodes) record(n);
    live.strategy = data.strategy;
    live.strategies = data.strategies;
    emit("snapshot");
  } else if (event === "nodes") {
    for (const n of data.nodes) record(n);
    for (const id of data.removed) {
      live.nodes.delete(id);
      live.history.delete(id);
    }
    emit("nodes", [...data.nodes.map((n) => n.id), ...data.removed]);
  } else if (event === "fleet") {
    live.fleet = data;
    live.strategy = data.strategy;
    live.fleetHistory.push({ t: Date.parse(data.at), ...data });
    if (live.fleetHistory.length > FLEET_HISTORY) live.fleetHistory.shift();
    emit("fleet");
  }
}

/** Splits an SSE byte stream into (event, data) pairs. */
async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let cut = buf.indexOf("\n\n");
    while (cut >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) onEvent(event, JSON.parse(data.join("\n")));
      cut = buf.indexOf("\n\n");
    }
  }
}

let controller = null;

/** Opens the stream (and keeps reopening it with backoff) until stop() or logout. */
export function start() {
  stop();
  const ctl = new AbortController();
  controller = ctl;
  void (async () => {
    let delay = 500;
    while (!ctl.signal.aborted) {
      setStatus("connecting");
      try {
        const res = await fetch("/v0/events", { headers: authHeaders(), signal: ctl.signal, cache: "no-store" });
        if (res.status === 401) {
          logout();
          return;
        }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        setStatus("live");
        delay = 500;
        await readEvents(res.body, handle);
      } catch {
        if (ctl.signal.aborted) return;
      }
      setStatus("reconnecting");
      await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
      delay = Math.min(delay * 2, 10_000);
    }
  })();
}

/** Closes the stream; the server unsubscribes as soon as the socket closes. */
export function stop() {
  controller?.abort();
  controller = null;
  setStatus("idle");
}
