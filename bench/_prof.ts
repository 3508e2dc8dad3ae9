import { runSelectBench } from "./select.js";
const s = process.argv[2] ?? "equal_weighted";
await runSelectBench({ nodes: [1000], iterations: 3000, strategies: [s], out: "/tmp/prof/x.json" });
