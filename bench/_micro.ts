const N = 1000;
const nodes: any[] = [];
for (let i = 0; i < N; i++) {
  const base = { id: `n${i}`, state: "online", models: new Set(["m"]), gpus: [], labels: {region:"r", tier:"t"}, maxConcurrency: 64, inFlight: i % 7, totalRequests: i * 3, lastSeenMs: 0 };
  nodes.push(i % 10 === 0 ? base : { ...base, gpuUsagePercent: 5, vramUsagePercent: 5, engine: { healthy: true }, avgResponseMs: 1 });
}
const out = new Float64Array(N);
function finiteOr(x: number | undefined, f: number) { return x !== undefined && Number.isFinite(x) ? x : f; }
const count = (n: any) => finiteOr(n.totalRequests, 0);
function score(nodes: any[], n: number) {
  let min = Infinity;
  for (let i = 0; i < n; i++) { const c = Math.max(0, count(nodes[i])); out[i] = c; if (c < min) min = c; }
  for (let i = 0; i < n; i++) out[i] = (1 + min) / (1 + (out[i] as number));
}
for (let r = 0; r < 5; r++) {
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < 2000; k++) score(nodes, N);
  const t1 = process.hrtime.bigint();
  console.log("per call us", Number(t1 - t0) / 2000 / 1000);
}
