import { runSelectBench } from "./select.js";
const s = process.argv[2] ?? "equal_weighted";
await runSelectBench({ nodes: [Number(process.argv[3] ?? 1000)], iterations: 6000, rounds: 1, strategies: [s], out: "/tmp/prof/x.json" });
