import http, { type IncomingMessage } from "node:http";
import type https from "node:https";

// The agent's HTTP client to its engine: Node's own http/https with keep-alive pools.
// Why not undici (used elsewhere in the repo, by benchmarks and tests): loading undici's index and
// its WebAssembly HTTP parser costs an idle agent ~20 MiB of RSS (measured: node:http + 50 requests
// +7 MiB over a bare process, undici +30 MiB), a third of the agent's memory budget, and the
// native parser here is also ~10% cheaper in CPU per streamed request.

// One pool per process (an agent talks to one engine): jobs, discovery and metric scrapes share
// its connections. Idle pooled sockets are unref'd by Node, so the pool never keeps a process alive.
const POOL_OPTIONS = { keepAlive: true, maxSockets: 1024, maxFreeSockets: 1024, scheduling: "lifo" as const };
const httpPool = new http.Agent(POOL_OPTIONS);
// node:https (and with it tls and crypto, ~2 MiB of an idle agent's RSS) loads on the first https
// engine URL only: most engines listen on plain http beside their agent.
let secure: { https: typeof https; pool: https.Agent } | undefined;
function securePool(): { https: typeof https; pool: https.Agent } {
  if (!secure) {
    const mod = process.getBuiltinModule("node:https");
    secure = { https: mod, pool: new mod.Agent(POOL_OPTIONS) };
  }
  return secure;
}

/**
 * Closes the idle pooled engine connections (on agent stop). Busy ones are left to their requests
 * (whose jobs the agent aborts), so another agent in the same process is not disturbed.
 */
export function closeIdleEngineConnections(): void {
  for (const pool of secure ? [httpPool, secure.pool] : [httpPool]) {
    for (const sockets of Object.values(pool.freeSockets)) for (const s of sockets ?? []) s.destroy();
  }
}

export interface EngineRequest {
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/**
 * Sends one request and resolves with the response once its headers arrive; the body is the
 * response stream (async-iterable). Rejects with the socket's error (`code` ECONNREFUSED,
 * ECONNRESET …) or an AbortError when `signal` fires, before or after the headers.
 * A request that fails with ECONNRESET on a reused keep-alive connection before any response is
 * sent once more on a fresh one: the engine closed that idle connection as we wrote, so it never
 * saw the request (the retry Node's http docs recommend for `reusedSocket`).
 */
export function engineRequest(url: URL, req: EngineRequest, retried = false): Promise<IncomingMessage> {
  const headers: Record<string, string | number> = { ...req.headers };
  if (req.body !== undefined) headers["content-length"] = Buffer.byteLength(req.body);
  return new Promise((resolve, reject) => {
    const options = { ...targetOf(url), method: req.method, headers, signal: req.signal };
    let responded = false;
    const onResponse = (res: IncomingMessage) => {
      responded = true;
      resolve(res);
    };
    let out: http.ClientRequest;
    if (url.protocol === "https:") {
      const { https, pool } = securePool();
      out = https.request({ ...options, agent: pool }, onResponse);
    } else out = http.request({ ...options, agent: httpPool }, onResponse);
    out.on("error", (err: NodeJS.ErrnoException) => {
      if (responded) return; // the response stream reports its own errors
      const staleSocket = out.reusedSocket && err.code === "ECONNRESET" && !req.signal?.aborted;
      if (staleSocket && !retried) resolve(engineRequest(url, req, true));
      else reject(err);
    });
    out.end(req.body);
  });
}

interface Target {
  protocol: string;
  hostname: string;
  port: string;
  path: string;
  auth?: string;
}
// Request options per URL, worked out once: the job runner sends every job to the same few URLs,
// and Node would otherwise convert the URL object on every request.
const targets = new WeakMap<URL, Target>();
function targetOf(url: URL): Target {
  let t = targets.get(url);
  if (!t) {
    t = {
      protocol: url.protocol,
      // An IPv6 literal comes bracketed in URL.hostname; http.request wants it bare.
      hostname: url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname,
      port: url.port,
      path: `${url.pathname}${url.search}`,
      ...(url.username
        ? { auth: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` }
        : {}),
    };
    targets.set(url, t);
  }
  return t;
}

/** Reads a whole response body, at most `limit` bytes (more destroys the response and throws). */
export async function readBody(res: IncomingMessage, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of res as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > limit) {
      res.destroy();
      throw new BodyTooLargeError(limit);
    }
    parts.push(part);
  }
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}

/** A response body over the reader's limit. */
export class BodyTooLargeError extends Error {
  override readonly name = "BodyTooLargeError";
  constructor(readonly limit: number) {
    super(`body is larger than ${limit} bytes`);
  }
}
