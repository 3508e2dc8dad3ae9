import { randomBytes } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Pool } from "undici";
import { launchFleet } from "../src/fleet/launcher.js";
import { ChatRole, DispatchService } from "../src/gen/llmlb/v1/dispatch_pb.js";
import { startControlPlaneProcess } from "./lib/control-plane-process.js";
import { grpcJsClient } from "../test/helpers/dispatch-clients.js";

const apiKey = `sk-bench-${randomBytes(8).toString("hex")}`;
const nodeToken = `nt-bench-${randomBytes(8).toString("hex")}`;
const cp = await startControlPlaneProcess({ LLMLB_API_KEYS: apiKey, LLMLB_NODE_TOKENS: nodeToken, LLMLB_LOG_LEVEL: "warn", LLMLB_DB: ":memory:" }, ["--strategy", "least_connections"]);
const fleet = await launchFleet({ serverUrl: cp.url, nodeToken, nodes: [{ id: "bi", profile: "h100", model: "llama-3.1-8b", instant: true, maxConcurrency: 4096 }] });
await cp.waitForNodes(1, 60_000);
const pool = new Pool(cp.url, { connections: 16 });
const ic = [(next: any) => async (req: any) => { req.header.set("authorization", `Bearer ${apiKey}`); return next(req); }];
const grpcC = createClient(DispatchService, createGrpcTransport({ baseUrl: cp.url, interceptors: ic }));
const connC = createClient(DispatchService, createConnectTransport({ baseUrl: cp.url, httpVersion: "1.1", useBinaryFormat: true, interceptors: ic }));
const g = grpcJsClient(cp.url, apiKey);
const req = { model: "llama-3.1-8b", messages: [{ role: ChatRole.USER, content: "Hello" }], sampling: { maxTokens: 8 } };
const body = JSON.stringify({ model: "llama-3.1-8b", messages: [{ role: "user", content: "Hello" }], max_tokens: 8 });
const paths: Record<string, () => Promise<unknown>> = {
  facade: async () => { const r = await pool.request({ path: "/v1/chat/completions", method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` }, body }); await r.body.arrayBuffer(); },
  connectGrpc: () => grpcC.createChatCompletion(req),
  connectH1: () => connC.createChatCompletion(req),
  grpcjs: () => g.unary(DispatchService.method.createChatCompletion, req),
  listNodesGrpc: () => grpcC.getStrategy({}),
};
for (let round = 0; round < 3; round++) {
  for (const [name, f] of Object.entries(paths)) {
    for (let i = 0; i < 100; i++) await f();
    const xs: number[] = [];
    for (let i = 0; i < 600; i++) { const t = performance.now(); await f(); xs.push(performance.now() - t); }
    xs.sort((a, b) => a - b);
    console.log(round, name.padEnd(14), "p50", xs[300]!.toFixed(2), "p90", xs[540]!.toFixed(2));
  }
}
g.close(); await pool.close(); await fleet.stop(); await cp.stop();
