import { NodeAgent } from "../agent/agent.js";
import { type AgentConfig, loadAgentConfig } from "../agent/agent-config.js";
import { createGpuCollector, createHostCollector, createNoGpuCollector } from "../agent/collectors/index.js";
import { createEngineAdapter } from "../agent/engines/index.js";
import { readTomlFile } from "../config/server-config.js";
import { createLogger } from "../log.js";
import { onShutdownSignal } from "./signals.js";

/** Builds an agent from a validated config. */
export function buildAgent(config: AgentConfig): NodeAgent {
  const logger = createLogger(config.logLevel, "llmlb-agent");
  const engine = createEngineAdapter(
    config.engine as Parameters<typeof createEngineAdapter>[0],
    config.engineUrl,
    {
      ...(config.engineApiKey ? { apiKey: config.engineApiKey } : {}),
    },
  );
  // A simulated engine reports its own simulated GPU; running nvidia-smi beside it would mislead.
  const gpu =
    config.engine === "sim"
      ? createNoGpuCollector("simulated engine: GPU figures come from the simulator")
      : createGpuCollector({
          kind: config.gpu as "auto" | "nvidia" | "amd" | "none",
          intervalMs: Math.round(config.heartbeatSecs * 1000),
          nvidiaSmiPath: config.nvidiaSmi,
          logger,
        });
  return new NodeAgent({ config, engine, gpu, host: createHostCollector(), logger });
}

/** `llmlb agent`: runs until SIGTERM, then drains (finishes in-flight jobs) and exits. */
export async function agentCommand(flags: Record<string, unknown> & { config?: string }): Promise<void> {
  const { config: configPath, ...rest } = flags;
  const config = loadAgentConfig({ flags: rest, env: process.env, toml: readTomlFile(configPath) });
  const agent = buildAgent(config);
  await agent.start();
  onShutdownSignal(() => agent.stop(true));
}
