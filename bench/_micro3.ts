const N = 1000;
const mk = (v: number) => { const nodes: any[] = [];
for (let i = 0; i < N; i++) {
  const base = { id: `n${i}`, state: "online", models: new Set(["m"]), gpus: [], labels: {region:"r", tier:"t"}, maxConcurrency: 64, inFlight: i % 7, totalRequests: i * 3 + v, lastSeenMs: 0 };
  nodes.push((i+v) % 10 === 0 ? base : { ...base, gpuUsagePercent: 5, vramUsagePercent: 5, engine: { healthy: true }, avgResponseMs: 1 });
} return nodes; };
const fleets = [mk(0), mk(1), mk(2), mk(3)];
const out = new Float64Array(N);
function score(nodes: any[], n: number) {
  let min = Infinity;
  for (let i = 0; i < n; i++) { const c = nodes[i].totalRequests; out[i] = c; if (c < min) min = c; }
  return min;
}
const mode = process.argv[2];
for (let r = 0; r < 4; r++) {
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < 2000; k++) score(fleets[mode === "rotate" ? k % 4 : 0]!, N);
  const t1 = process.hrtime.bigint();
  console.log(mode, "per call us", Number(t1 - t0) / 2000 / 1000);
}
