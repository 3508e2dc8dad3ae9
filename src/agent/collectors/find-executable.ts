import { accessSync, constants, statSync } from "node:fs";
import { delimiter, isAbsolute, join, resolve } from "node:path";

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Resolves a tool name the way a shell would: a name with a slash is a path, anything else is looked
 * up on PATH. Returns undefined when nothing executable is found, so callers can say "not found"
 * instead of discovering it through a spawn error.
 */
export function findExecutable(
  name: string,
  pathEnv: string | undefined = process.env.PATH,
): string | undefined {
  if (name.includes("/")) {
    const full = isAbsolute(name) ? name : resolve(name);
    return isExecutableFile(full) ? full : undefined;
  }
  for (const dir of (pathEnv ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}
