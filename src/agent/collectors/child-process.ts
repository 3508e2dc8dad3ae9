import type { ChildProcess } from "node:child_process";

/** True once the process has exited (or never started). */
export function hasExited(proc: ChildProcess): boolean {
  return proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null;
}

/**
 * Ends a child: SIGTERM, then SIGKILL after `graceMs`, then gives up waiting after another
 * `graceMs` (a tool stuck in the kernel driver may ignore even SIGKILL; the agent must not hang on it).
 */
export function terminate(proc: ChildProcess, graceMs = 1000): Promise<void> {
  if (hasExited(proc)) return Promise.resolve();
  return new Promise((resolve) => {
    let killTimer: NodeJS.Timeout | undefined;
    let giveUpTimer: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(killTimer);
      clearTimeout(giveUpTimer);
      resolve();
    };
    proc.once("exit", done);
    killTimer = setTimeout(() => {
      proc.kill("SIGKILL");
      giveUpTimer = setTimeout(done, graceMs);
    }, graceMs);
    proc.kill("SIGTERM");
  });
}
