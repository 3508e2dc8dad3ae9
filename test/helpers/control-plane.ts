import pino from "pino";
import { loadServerConfig } from "../../src/config/server-config.js";
import { setupAuth } from "../../src/server/auth-setup.js";
import { type ControlPlane, createControlPlane } from "../../src/server/control-plane.js";

/**
 * A control plane in this process, listening on 127.0.0.1 (port 0 unless `flags.port` says
 * otherwise) with an in-memory store and a silent logger; `flags` as the CLI's, validated by the
 * same config loader. close() on the result also closes its store.
 */
export async function startInProcessControlPlane(
  flags: Record<string, unknown>,
): Promise<{ cp: ControlPlane; url: string }> {
  const config = loadServerConfig({
    flags: { port: 0, host: "127.0.0.1", db: ":memory:", ...flags },
    env: {},
    toml: {},
  });
  const logger = pino({ level: "silent" });
  const { store, auth, credentials } = await setupAuth(config, logger);
  const cp = await createControlPlane(config, { logger, credentials, auth, onClose: () => store.close() });
  const { url } = await cp.listen();
  return { cp, url };
}
