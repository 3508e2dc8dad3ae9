import { createStrategy } from "../src/selector/registry.js";
import { createSeededRng } from "../src/selector/rng.js";
const N = 1000;
const mk = (v: number) => { const nodes: any[] = [];
for (let i = 0; i < N; i++) {
  const base = { id: `n${i}`, state: "online", models: new Set(["m"]), gpus: [], labels: {region:"r", tier:"t"}, maxConcurrency: 64, inFlight: i % 7, totalRequests: i * 3 + v, lastSeenMs: 0 };
  nodes.push((i+v) % 10 === 0 ? base : { ...base, gpuUsagePercent: 5, vramUsagePercent: 5, engine: { healthy: true }, avgResponseMs: 1 });
} return nodes; };
const fleets = [mk(0), mk(1), mk(2), mk(3)];
const name = process.argv[2] ?? "equal_weighted";
const rotate = process.argv[3] === "rotate";
const s = createStrategy(name, { gpuThreshold: 80, vramThreshold: 90, activeRequestThreshold: 10, rng: createSeededRng(1) });
const req = { model: "m", userId: "u", promptTokens: 100, maxTokens: 100, prefixHashes: [] };
for (let r = 0; r < 5; r++) {
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < 2000; k++) s.select(req, fleets[rotate ? k % 4 : 0]!);
  const t1 = process.hrtime.bigint();
  console.log(name, rotate, "per call us", Number(t1 - t0) / 2000 / 1000);
}
