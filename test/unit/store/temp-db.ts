import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach } from "vitest";

/**
 * Per-test temporary directories, removed after each test. Returns a function that makes one and
 * gives back the path of a database file inside it.
 */
export function useTempDb(): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), "llmlb-store-"));
    dirs.push(dir);
    return join(dir, "llmlb.db");
  };
}

/** A clock tests move by hand (epoch ms). */
export function manualClock(start = Date.UTC(2025, 0, 1)): {
  now: () => number;
  advance: (ms: number) => void;
} {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}
