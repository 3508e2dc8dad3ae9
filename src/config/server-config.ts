import { existsSync, readFileSync } from "node:fs";
import { parse as parseToml } from "smol-toml";
import { QUEUE_POLICY_NAMES } from "../queue/index.js";
import { STRATEGY_NAMES } from "../selector/registry.js";
import {
  ConfigError,
  type ConfigSources,
  LOG_LEVELS,
  option,
  type ResolvedOptions,
  resolveOptions,
} from "./spec.js";

/** Every option of `llmlb serve` (and `llmlb demo`). Names come from the seeds where they exist. */
export const SERVER_OPTIONS = {
  port: option({
    type: "int",
    env: ["LLMLB_PORT"],
    toml: "server.port",
    default: 8080,
    min: 0,
    max: 65535,
    description: "Port for HTTP/1.1, h2c, gRPC and Connect",
  }),
  host: option({
    type: "string",
    env: ["LLMLB_HOST"],
    toml: "server.host",
    default: "0.0.0.0",
    description: "Address to bind",
  }),
  tlsCert: option({
    type: "string",
    env: ["LLMLB_TLS_CERT"],
    toml: "server.tls_cert",
    default: "",
    description: "PEM certificate file; enables TLS with ALPN (h2, http/1.1)",
  }),
  tlsKey: option({
    type: "string",
    env: ["LLMLB_TLS_KEY"],
    toml: "server.tls_key",
    default: "",
    description: "PEM private key file",
  }),
  strategy: option({
    type: "string",
    env: ["LOAD_BALANCER_MODE", "LB_STRATEGY"],
    toml: "load_balancer.mode",
    default: "metrics",
    choices: STRATEGY_NAMES,
    description: "Node-selection strategy",
  }),
  gpuThreshold: option({
    type: "number",
    env: ["LLMLB_GPU_THRESHOLD"],
    toml: "load_balancer.gpu_threshold",
    default: 80,
    min: 0,
    max: 100,
    description: "metrics strategy: max GPU utilisation %",
  }),
  vramThreshold: option({
    type: "number",
    env: ["LLMLB_VRAM_THRESHOLD"],
    toml: "load_balancer.vram_threshold",
    default: 90,
    min: 0,
    max: 100,
    description: "metrics strategy: max VRAM use %",
  }),
  activeRequestThreshold: option({
    type: "int",
    env: ["LLMLB_ACTIVE_REQ_THRESHOLD"],
    toml: "load_balancer.active_request_threshold",
    default: 10,
    min: 1,
    description: "metrics strategy: max active requests per node",
  }),
  heartbeatSecs: option({
    type: "number",
    env: ["LLMLB_HEARTBEAT_SECS", "XLLM_HEARTBEAT_SECS"],
    toml: "nodes.heartbeat_secs",
    default: 1,
    min: 0.05,
    max: 300,
    description: "Heartbeat interval asked of agents",
  }),
  staleSecs: option({
    type: "number",
    env: ["LLMLB_STALE_SECS"],
    toml: "nodes.stale_secs",
    default: 10,
    min: 0.1,
    description: "A node signal older than this counts as missing",
  }),
  offlineGraceSecs: option({
    type: "number",
    env: ["LLMLB_OFFLINE_GRACE_SECS"],
    toml: "nodes.offline_grace_secs",
    default: 300,
    min: 0,
    description: "How long an offline node keeps its identity",
  }),
  apiKeys: option<string[]>({
    type: "list",
    env: ["LLMLB_API_KEYS"],
    toml: "auth.api_keys",
    default: [],
    description: "Static API keys (comma-separated) beside the stored ones",
  }),
  nodeTokens: option<string[]>({
    type: "list",
    env: ["LLMLB_NODE_TOKENS"],
    toml: "auth.node_tokens",
    default: [],
    description: "Static node tokens (comma-separated) beside the stored ones",
  }),
  adminUser: option({
    type: "string",
    env: ["LLMLB_ADMIN_USER"],
    toml: "auth.admin_user",
    default: "",
    description: "First admin's user name (created on first start)",
  }),
  adminPassword: option({
    type: "string",
    env: ["LLMLB_ADMIN_PASSWORD"],
    toml: "auth.admin_password",
    default: "",
    description: "First admin's password",
  }),
  jwtSecret: option({
    type: "string",
    env: ["LLMLB_JWT_SECRET"],
    toml: "auth.jwt_secret",
    default: "",
    description: "JWT signing secret (generated and stored when empty)",
  }),
  db: option({
    type: "string",
    env: ["LLMLB_DB"],
    toml: "storage.db",
    default: "./data/llmlb.db",
    description: "SQLite file for users, keys and node tokens",
  }),
  queuePolicy: option({
    type: "string",
    env: ["LLMLB_QUEUE_POLICY"],
    toml: "queue.policy",
    default: "round_robin",
    choices: QUEUE_POLICY_NAMES,
    description: "Fair-queue policy",
  }),
  queueMaxPerUser: option({
    type: "int",
    env: ["LLMLB_QUEUE_MAX_PER_USER"],
    toml: "queue.max_per_user",
    default: 256,
    min: 0,
    description: "Waiting requests per user before 429",
  }),
  queueMaxTotal: option({
    type: "int",
    env: ["LLMLB_QUEUE_MAX_TOTAL"],
    toml: "queue.max_total",
    default: 4096,
    min: 0,
    description: "Waiting requests in all before 429",
  }),
  requestTimeoutSecs: option({
    type: "number",
    env: ["LLMLB_REQUEST_TIMEOUT_SECS"],
    toml: "queue.request_timeout_secs",
    default: 300,
    min: 0.01,
    description: "Default deadline of a request (queue wait + run)",
  }),
  maxRequestTimeoutSecs: option({
    type: "number",
    env: ["LLMLB_MAX_REQUEST_TIMEOUT_SECS"],
    toml: "queue.max_request_timeout_secs",
    default: 3600,
    min: 0.01,
    description: "Largest deadline a request may ask for",
  }),
  maxRetries: option({
    type: "int",
    env: ["LLMLB_MAX_RETRIES"],
    toml: "queue.max_retries",
    default: 2,
    min: 0,
    max: 10,
    description: "Re-dispatches of a job whose node was lost before its first token",
  }),
  bodyLimitBytes: option({
    type: "int",
    env: ["LLMLB_BODY_LIMIT_BYTES"],
    toml: "server.body_limit_bytes",
    default: 4 * 1024 * 1024,
    min: 1024,
    description: "Largest request body",
  }),
  metricsRequireKey: option({
    type: "bool",
    env: ["LLMLB_METRICS_REQUIRE_KEY"],
    toml: "metrics.require_key",
    default: false,
    description: "Require an API key (any scope) on GET /metrics",
  }),
  logLevel: option({
    type: "string",
    env: ["LLMLB_LOG_LEVEL"],
    toml: "server.log_level",
    default: "info",
    choices: LOG_LEVELS,
    description: "Log level",
  }),
};

/** The validated, frozen configuration of the control plane. */
export type ServerConfig = ResolvedOptions<typeof SERVER_OPTIONS>;

/** Reads config.toml (explicit path must exist; the default path is optional). */
export function readTomlFile(path: string | undefined): Record<string, unknown> {
  const file = path ?? "./config.toml";
  if (!existsSync(file)) {
    if (path) throw new ConfigError(`config file ${path} not found`);
    return {};
  }
  try {
    return parseToml(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`config file ${file}: ${(err as Error).message}`);
  }
}

/** Builds the server config once, at the edge: flags > env > config.toml > defaults. */
export function loadServerConfig(sources: ConfigSources): ServerConfig {
  const cfg = resolveOptions(SERVER_OPTIONS, sources);
  if ((cfg.tlsCert === "") !== (cfg.tlsKey === "")) {
    throw new ConfigError("tlsCert and tlsKey (LLMLB_TLS_CERT / LLMLB_TLS_KEY) must be set together");
  }
  if (cfg.requestTimeoutSecs > cfg.maxRequestTimeoutSecs) {
    throw new ConfigError("requestTimeoutSecs must not exceed maxRequestTimeoutSecs");
  }
  return cfg;
}
