import type { Logger } from "pino";
import { loadServerConfig, readTomlFile, type ServerConfig } from "../config/server-config.js";
import { createLogger } from "../log.js";
import { setupAuth } from "../server/auth-setup.js";
import { type ControlPlane, createControlPlane } from "../server/control-plane.js";
import { onShutdownSignal } from "./signals.js";

/** Flags `llmlb serve` accepts (camelCase keys of SERVER_OPTIONS). */
export type ServeFlags = Record<string, unknown> & { config?: string };

/** Loads config from flags/env/TOML and builds the control plane. */
export async function startControlPlane(
  flags: ServeFlags,
  logger?: Logger,
): Promise<{ cp: ControlPlane; url: string; config: ServerConfig }> {
  const { config: configPath, ...rest } = flags;
  const config = loadServerConfig({ flags: rest, env: process.env, toml: readTomlFile(configPath) });
  const log = logger ?? createLogger(config.logLevel, "llmlb");
  const { store, auth, credentials } = await setupAuth(config, log);
  const cp = await createControlPlane(config, {
    logger: log,
    credentials,
    auth,
    onClose: () => store.close(),
  });
  const { url } = await cp.listen();
  return { cp, url, config };
}

/** `llmlb serve`: runs until SIGINT/SIGTERM, then shuts down cleanly. */
export async function serveCommand(flags: ServeFlags): Promise<void> {
  const { cp, url } = await startControlPlane(flags);
  cp.app.log.info({ url, strategy: cp.strategies.current }, "llmlb control plane listening");
  onShutdownSignal(async () => {
    await cp.close();
  });
}
