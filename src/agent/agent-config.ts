import os from "node:os";
import {
  ConfigError,
  type ConfigSources,
  LOG_LEVELS,
  option,
  type ResolvedOptions,
  resolveOptions,
} from "../config/spec.js";

/** Engine kinds the agent can sit beside. */
export const ENGINE_KINDS = ["vllm", "sglang", "llamacpp", "ollama", "tgi", "openai", "sim"] as const;

/** Every option of `llmlb agent`. */
export const AGENT_OPTIONS = {
  server: option({
    type: "string",
    env: ["LLMLB_SERVER"],
    toml: "agent.server",
    default: "",
    description: "Control plane URL (http://host:8080)",
  }),
  token: option({
    type: "string",
    env: ["LLMLB_NODE_TOKEN"],
    toml: "agent.token",
    default: "",
    description: "Node token",
  }),
  engine: option({
    type: "string",
    env: ["LLMLB_ENGINE"],
    toml: "agent.engine",
    default: "vllm",
    choices: ENGINE_KINDS,
    description: "Engine kind",
  }),
  engineUrl: option({
    type: "string",
    env: ["LLMLB_ENGINE_URL"],
    toml: "agent.engine_url",
    default: "",
    description: "Engine base URL (http://127.0.0.1:8000)",
  }),
  engineApiKey: option({
    type: "string",
    env: ["LLMLB_ENGINE_API_KEY"],
    toml: "agent.engine_api_key",
    default: "",
    description: "Bearer key the engine expects, if any",
  }),
  nodeId: option({
    type: "string",
    env: ["LLMLB_NODE_ID"],
    toml: "agent.node_id",
    default: "",
    description: "Stable node id (default: hostname-engineport)",
  }),
  maxConcurrency: option({
    type: "int",
    env: ["LLMLB_MAX_CONCURRENCY"],
    toml: "agent.max_concurrency",
    default: 0,
    min: 0,
    max: 100_000,
    description: "Slot limit (0: the engine's own, else 64)",
  }),
  heartbeatSecs: option({
    type: "number",
    env: ["LLMLB_HEARTBEAT_SECS", "XLLM_HEARTBEAT_SECS"],
    toml: "agent.heartbeat_secs",
    default: 1,
    min: 0.05,
    max: 300,
    description: "Heartbeat interval (the server's, if shorter, wins)",
  }),
  gpu: option({
    type: "string",
    env: ["LLMLB_GPU"],
    toml: "agent.gpu",
    default: "auto",
    choices: ["auto", "nvidia", "amd", "none"],
    description: "GPU collector",
  }),
  nvidiaSmi: option({
    type: "string",
    env: ["LLMLB_NVIDIA_SMI"],
    toml: "agent.nvidia_smi",
    default: "nvidia-smi",
    description: "nvidia-smi binary",
  }),
  costPerHour: option({
    type: "number",
    env: ["LLMLB_COST_PER_HOUR"],
    toml: "agent.cost_per_hour",
    default: -1,
    min: -1,
    description: "Label: cost in USD per hour (-1: unset)",
  }),
  region: option({
    type: "string",
    env: ["LLMLB_REGION"],
    toml: "agent.region",
    default: "",
    description: "Label: region",
  }),
  tier: option({
    type: "string",
    env: ["LLMLB_TIER"],
    toml: "agent.tier",
    default: "",
    description: "Label: tier",
  }),
  drainTimeoutSecs: option({
    type: "number",
    env: ["LLMLB_DRAIN_TIMEOUT_SECS"],
    toml: "agent.drain_timeout_secs",
    default: 60,
    min: 0,
    description: "How long SIGTERM waits for in-flight jobs",
  }),
  logLevel: option({
    type: "string",
    env: ["LLMLB_LOG_LEVEL"],
    toml: "agent.log_level",
    default: "info",
    choices: LOG_LEVELS,
    description: "Log level",
  }),
};

/** The validated, frozen agent configuration. */
export type AgentConfig = ResolvedOptions<typeof AGENT_OPTIONS>;

/** Builds the agent config once, at the edge. */
export function loadAgentConfig(sources: ConfigSources): AgentConfig {
  const cfg = resolveOptions(AGENT_OPTIONS, sources);
  if (!cfg.server) throw new ConfigError("server is required (--server or LLMLB_SERVER)");
  if (!cfg.token) throw new ConfigError("token is required (--token or LLMLB_NODE_TOKEN)");
  if (!cfg.engineUrl) throw new ConfigError("engineUrl is required (--engine-url or LLMLB_ENGINE_URL)");
  for (const [key, value] of [
    ["server", cfg.server],
    ["engineUrl", cfg.engineUrl],
  ] as const) {
    let u: URL;
    try {
      u = new URL(value);
    } catch {
      throw new ConfigError(`${key}: not a URL: ${JSON.stringify(value)}`);
    }
    if (u.protocol !== "http:" && u.protocol !== "https:")
      throw new ConfigError(`${key}: must be http:// or https://`);
  }
  if (cfg.nodeId) return cfg;
  const port = new URL(cfg.engineUrl).port || "80";
  return Object.freeze({ ...cfg, nodeId: `${os.hostname()}-${port}`.replace(/[^A-Za-z0-9._:-]/g, "-") });
}
