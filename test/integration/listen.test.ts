import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";
import { afterAll, describe, expect, it } from "vitest";
import { loadServerConfig } from "../../src/config/server-config.js";
import type { ControlPlane } from "../../src/server/control-plane.js";
import { startInProcessControlPlane } from "../helpers/control-plane.js";

const start = startInProcessControlPlane;

function h2Get(
  url: string,
  path: string,
  opts: http2.SecureClientSessionOptions = {},
): Promise<{ status: number; body: string; alpn: string | false }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url, opts);
    session.on("error", reject);
    const req = session.request({ ":path": path });
    let body = "";
    let status = 0;
    req.on("response", (h) => {
      status = Number(h[":status"]);
    });
    req.setEncoding("utf8");
    req.on("data", (d: string) => {
      body += d;
    });
    req.on("end", () => {
      const alpn = session.alpnProtocol ?? false;
      session.close();
      resolve({ status, body, alpn });
    });
    req.end();
  });
}

describe("one port: HTTP/1.1 and h2c by preface sniffing", () => {
  let s: { cp: ControlPlane; url: string };
  afterAll(async () => {
    await s?.cp.close();
  });

  it("serves HTTP/1.1, HTTP/2 prior knowledge, and a client that sends one byte at a time", async () => {
    s = await start({});
    const h1 = await fetch(`${s.url}/healthz`);
    expect(h1.status).toBe(200);
    const h2 = await h2Get(s.url, "/healthz");
    expect(h2.status).toBe(200);
    expect(JSON.parse(h2.body)).toEqual({ status: "ok" });
    // A slow HTTP/1.1 client: "P", "O", "S"… must not be mistaken for the h2 preface "PRI".
    const port = Number(new URL(s.url).port);
    const reply = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(port, "127.0.0.1");
      const req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
      let i = 0;
      let out = "";
      const tick = setInterval(() => {
        if (i < req.length) sock.write(req[i++] ?? "");
        else clearInterval(tick);
      }, 2);
      sock.on("data", (d) => {
        out += d.toString();
      });
      sock.on("end", () => resolve(out));
      sock.on("error", reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 200/);
  });

  it("closes promptly with an idle keep-alive connection and an open h2 session", async () => {
    const other = await start({});
    const session = http2.connect(other.url);
    await new Promise<void>((r) => session.once("connect", () => r()));
    await fetch(`${other.url}/healthz`);
    const t0 = Date.now();
    await other.cp.close();
    expect(Date.now() - t0).toBeLessThan(5_000);
    session.destroy();
  });
});

describe("TLS with ALPN on the same port", () => {
  const dir = mkdtempSync(join(tmpdir(), "llmlb-tls-"));
  let s: { cp: ControlPlane; url: string } | undefined;
  afterAll(async () => {
    await s?.cp.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("negotiates h2 and http/1.1", async () => {
    const cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        key,
        "-out",
        cert,
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
      ],
      {
        stdio: "ignore",
      },
    );
    s = await start({ tlsCert: cert, tlsKey: key });
    expect(s.url).toMatch(/^https:/);
    const h2 = await h2Get(s.url, "/healthz", { rejectUnauthorized: false });
    expect(h2.status).toBe(200);
    expect(h2.alpn).toBe("h2");
    const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
    const h1 = await request(`${s.url}/healthz`, { dispatcher });
    expect(h1.statusCode).toBe(200);
    await h1.body.text();
    await dispatcher.close();
  });

  it("serves the gRPC fast path over TLS too (an unknown key answers UNAUTHENTICATED, trailers-only)", async () => {
    if (!s) throw new Error("the TLS server did not start");
    const session = http2.connect(s.url, { rejectUnauthorized: false });
    try {
      const trailers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        const call = session.request({
          ":method": "POST",
          ":path": "/llmlb.v1.DispatchService/CreateChatCompletion",
          "content-type": "application/grpc",
          te: "trailers",
          authorization: "Bearer sk-not-a-key",
        });
        // A call that fails before its first message answers trailers-only: the status is in the headers.
        call.on("response", (h) => {
          if (h["grpc-status"] !== undefined) resolve(h);
        });
        call.on("trailers", resolve);
        call.on("error", reject);
        call.resume();
        call.end(Buffer.from([0, 0, 0, 0, 0])); // one empty message
      });
      expect(trailers["grpc-status"]).toBe("16"); // UNAUTHENTICATED
      expect(decodeURIComponent(String(trailers["grpc-message"]))).toMatch(/API key/);
    } finally {
      session.close();
    }
  });

  it("refuses a half-configured TLS setup with a message naming the keys", () => {
    expect(() => loadServerConfig({ flags: { tlsCert: "/x.pem" }, env: {}, toml: {} })).toThrow(
      /LLMLB_TLS_KEY/,
    );
  });
});
