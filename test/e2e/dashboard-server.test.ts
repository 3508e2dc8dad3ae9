import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bucketQuantile, type Dashboard, registerDashboard } from "../../src/dashboard/index.js";
import { installErrorHandling } from "../../src/http/error-handler.js";
import type { Credentials } from "../../src/http/principal.js";
import { StrategyBook } from "../../src/jobs/strategy-book.js";
import { createMetrics } from "../../src/metrics/metrics.js";
import { NodeStore } from "../../src/nodes/node-store.js";

const ADMIN_KEY = "sk-dashboard-admin";
const credentials: Credentials = {
  apiKey: (k) =>
    k === ADMIN_KEY
      ? { userId: "u-admin", keyId: "k1", scopes: new Set(["admin"]), via: "api_key" }
      : undefined,
  nodeToken: () => undefined,
};

type Frame = { event: string; data: unknown };

/** An SSE reader over a fetch() body: `until(pred)` reads frames until pred holds on all read so far. */
function frameReader(body: ReadableStream<Uint8Array>) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const frames: Frame[] = [];
  let buf = "";
  return {
    frames,
    async until(pred: (frames: Frame[]) => boolean): Promise<Frame[]> {
      while (!pred(frames)) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        for (let cut = buf.indexOf("\n\n"); cut >= 0; cut = buf.indexOf("\n\n")) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) frames.push({ event, data: JSON.parse(data) });
        }
      }
      return frames;
    },
  };
}

describe("dashboard server: static assets and the /v0/events stream", () => {
  let app: FastifyInstance;
  let dash: Dashboard;
  let nodes: NodeStore;
  let url: string;

  beforeAll(async () => {
    nodes = new NodeStore({ staleMs: 5000, offlineGraceMs: 60_000 });
    const metrics = createMetrics(nodes);
    const strategies = new StrategyBook("round_robin", {
      gpuThreshold: 80,
      vramThreshold: 90,
      activeRequestThreshold: 10,
    });
    app = Fastify();
    installErrorHandling(app);
    dash = registerDashboard(app, {
      credentials,
      nodes,
      metrics,
      strategies,
      queueSnapshot: () => ({ total: 0, users: [], oldestWaitMs: 0 }),
      nodeFlushMs: 50,
      fleetMs: 100,
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    const addr = app.server.address();
    url = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
  });

  afterAll(async () => {
    await app.close();
    nodes.close();
  });

  it("serves the page and its assets with types, CSP and revalidation", async () => {
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(page.headers.get("cache-control")).toBe("no-cache");
    const etag = page.headers.get("etag") ?? "";
    expect((await fetch(`${url}/`, { headers: { "if-none-match": etag } })).status).toBe(304);
    const cases: [string, number, RegExp | null][] = [
      ["/assets/app.js", 200, /^text\/javascript/],
      ["/assets/styles.css", 200, /^text\/css/],
      ["/assets/views/nodes.js", 200, /^text\/javascript/],
      ["/assets/favicon.svg", 200, /^image\/svg\+xml/],
      ["/assets/nope.js", 404, null],
      ["/assets/..%2Fstatic-assets.ts", 404, null],
    ];
    for (const [path, status, type] of cases) {
      const r = await fetch(`${url}${path}`);
      expect(r.status, path).toBe(status);
      if (type) expect(r.headers.get("content-type"), path).toMatch(type);
      await r.arrayBuffer();
    }
  });

  it("refuses the stream without an admin credential", async () => {
    expect((await fetch(`${url}/v0/events`)).status).toBe(401);
    const wrong = await fetch(`${url}/v0/events`, { headers: { authorization: "Bearer sk-wrong" } });
    expect(wrong.status).toBe(401);
    expect(dash.hub.clientCount).toBe(0);
  });

  it("sends a snapshot, then coalesced node updates and fleet figures, and lets go on close", async () => {
    const ctl = new AbortController();
    const res = await fetch(`${url}/v0/events`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
      signal: ctl.signal,
    });
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(dash.hub.clientCount).toBe(1);
    const stream = frameReader(res.body as ReadableStream<Uint8Array>);
    const first = await stream.until((f) => f.length >= 1);
    expect(first[0]?.event).toBe("snapshot");
    expect(first[0]?.data).toMatchObject({ nodes: [], strategy: "round_robin" });

    const { node } = nodes.upsert("node-1");
    // Many events inside one flush period reach the client as one update.
    for (let i = 0; i < 20; i++) nodes.announce(node, i > 0);
    const frames = await stream.until(
      (f) => f.some((x) => x.event === "nodes") && f.some((x) => x.event === "fleet"),
    );
    const updates = frames.filter((f) => f.event === "nodes");
    expect(updates).toHaveLength(1);
    expect(updates[0]?.data).toMatchObject({ nodes: [{ id: "node-1" }], removed: [] });
    const fleet = frames.find((f) => f.event === "fleet")?.data;
    expect(fleet).toMatchObject({ strategy: "round_robin", queue: { total: 0, users: [] } });

    ctl.abort();
    const deadline = Date.now() + 5000;
    while (dash.hub.clientCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(dash.hub.clientCount).toBe(0);
  });
});

describe("bucketQuantile", () => {
  const cum = (pairs: [number, number][]) => new Map(pairs);
  const to = cum([
    [0.1, 10],
    [0.5, 60],
    [1, 90],
    [Number.POSITIVE_INFINITY, 100],
  ]);
  it.each([
    [0.1, 0.1],
    [0.5, 0.1 + 0.4 * (40 / 50)],
    [0.9, 1],
    [0.99, 1],
  ])("q=%s → %s", (q, want) => {
    expect(bucketQuantile(q, new Map(), to)).toBeCloseTo(want, 6);
  });
  it("is null with no observations in the window", () => {
    expect(bucketQuantile(0.5, to, to)).toBeNull();
  });
});
