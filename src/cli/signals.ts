/**
 * Runs `stop` once on the first SIGINT/SIGTERM, then exits; a second signal exits at once
 * (an operator pressing Ctrl-C twice means it).
 */
export function onShutdownSignal(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (sig: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    stop()
      .then(() => process.exit(0))
      .catch((err) => {
        console.error(`error during shutdown (${sig}):`, err);
        process.exit(1);
      });
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
}
