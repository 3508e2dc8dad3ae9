import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { closeIdleEngineConnections } from "../../../src/agent/engines/engine-client.js";
import { createEngineHttp, EngineHttpError } from "../../../src/agent/engines/engine-http.js";

let server: Server | undefined;
afterEach(async () => {
  closeIdleEngineConnections();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  server = undefined;
});

async function serve(handler: RequestListener): Promise<string> {
  const srv = createServer(handler);
  server = srv;
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
}

describe("engine HTTP client (node:http keep-alive pool)", () => {
  it("reuses one connection for successive requests", async () => {
    const sockets = new Set<Socket>();
    const url = await serve((req, res) => {
      sockets.add(req.socket);
      res.end("ok");
    });
    const http = createEngineHttp(url, { timeoutMs: 2000 });
    for (let i = 0; i < 5; i++) expect(await http.text("/x")).toBe("ok");
    expect(sockets.size).toBe(1);
  });

  it("retries a GET once when the engine closed the pooled connection while it was idle", async () => {
    let calls = 0;
    const sockets: Socket[] = [];
    const url = await serve((req, res) => {
      calls++;
      sockets.push(req.socket);
      res.end(JSON.stringify({ n: calls }));
    });
    const http = createEngineHttp(url, { timeoutMs: 2000 });
    expect(await http.json("/a")).toEqual({ n: 1 });
    // The engine resets its idle keep-alive socket (a restart, an idle timeout) and the client
    // sends before it notices: it must retry on a new connection, not report the engine as down.
    const pooled = sockets[0] as Socket;
    pooled.resetAndDestroy();
    expect(await http.json("/b")).toEqual({ n: 2 });
    expect(sockets[1]).not.toBe(pooled);
  });

  it("refuses a body over 16 MiB as bad_body", async () => {
    const chunk = Buffer.alloc(1024 * 1024, 97);
    const url = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      for (let i = 0; i < 17; i++) res.write(chunk);
      res.end();
    });
    const err = await createEngineHttp(url, { timeoutMs: 5000 })
      .text("/metrics")
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineHttpError);
    expect((err as EngineHttpError).code).toBe("bad_body");
  });

  it("times out a body that stops half way, and says so", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("partial"); // and never ends
    });
    const started = Date.now();
    const err = await createEngineHttp(url, { timeoutMs: 200 })
      .text("/metrics")
      .catch((e: unknown) => e);
    expect((err as EngineHttpError).code).toBe("timeout");
    expect((err as Error).message).toMatch(/timed out after 200 ms/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("reports a non-2xx status with the status and the body's start", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(503);
      res.end("loading model");
    });
    const err = (await createEngineHttp(url, { timeoutMs: 2000 })
      .text("/health")
      .catch((e: unknown) => e)) as EngineHttpError;
    expect(err.code).toBe("http_status");
    expect(err.status).toBe(503);
    expect(err.message).toMatch(/HTTP 503 loading model/);
  });
});
