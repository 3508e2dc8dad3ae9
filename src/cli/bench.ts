/** Options every benchmark takes. */
interface BenchOptions {
  out?: string;
  quick: boolean;
}

// Benchmarks load lazily: each pulls in its own fleet and load generator.
const BENCHES: Record<string, (o: BenchOptions) => Promise<unknown>> = {
  overhead: async (o) => (await import("../../bench/overhead.js")).runOverheadBench(o),
  select: async (o) => (await import("../../bench/select.js")).runSelectBench(o.out ? { out: o.out } : {}),
  routing: async (o) => (await import("../../bench/routing.js")).runRoutingBench(o),
  agent: async (o) => (await import("../../bench/agent.js")).runAgentBench(o),
  dispatch: async (o) => (await import("../../bench/dispatch.js")).runDispatchBench(o),
  fairness: async (o) => (await import("../../bench/fairness.js")).runFairnessBench(o),
};

/** `llmlb bench <name>`: runs one benchmark; each prints a table and writes JSON. */
export async function benchCommand(name: string, o: { out?: string; quick?: boolean }): Promise<void> {
  const run = BENCHES[name];
  if (!run)
    throw new Error(`unknown benchmark ${JSON.stringify(name)}; valid: ${Object.keys(BENCHES).join(", ")}`);
  await run({ ...(o.out ? { out: o.out } : {}), quick: o.quick === true });
  process.exit(0);
}
