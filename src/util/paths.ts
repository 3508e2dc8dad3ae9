import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The package root, found by walking up to llmlb's package.json: the same code runs from src/ (tsx,
 * vitest) and bundled from dist/, so paths relative to a module's own URL would differ.
 */
export const PACKAGE_ROOT: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "llmlb")
      return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find llmlb's package.json above this module");
    dir = up;
  }
})();
