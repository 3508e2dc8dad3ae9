import { resolveOptions } from "../config/spec.js";
import { createLogger } from "../log.js";
import { startSim } from "../sim/index.js";
import { onShutdownSignal } from "./signals.js";
import { SIM_OPTIONS } from "./sim-options.js";

/** `llmlb sim`: a simulated vLLM-like engine; prints its URL and runs until SIGINT/SIGTERM. */
export async function simCommand(flags: Record<string, unknown>): Promise<void> {
  const o = resolveOptions(SIM_OPTIONS, { flags, env: process.env, toml: {} });
  const sim = await startSim({ ...o, logger: createLogger("warn", "llmlb-sim") });
  // The first stdout line is the URL: the demo and tests read it to learn an ephemeral port.
  process.stdout.write(`${sim.url}\n`);
  onShutdownSignal(() => sim.close());
}
