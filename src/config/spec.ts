/**
 * Declarative option specs shared by the server and agent configs: where a value may come from
 * (flag, env names, TOML path) and how it is validated. One table per command keeps the README,
 * `--help` and validation in agreement.
 */
export type OptionType = "int" | "number" | "string" | "list" | "bool";

/** One configurable value. */
export interface OptionSpec<T> {
  readonly type: OptionType;
  /** Environment variables, first match wins (aliases after the canonical name). */
  readonly env: readonly string[];
  /** Dotted path in config.toml, e.g. "load_balancer.mode". */
  readonly toml?: string;
  readonly default: T;
  readonly min?: number;
  readonly max?: number;
  readonly choices?: readonly string[];
  readonly description: string;
}

/** Declares one option with its value type inferred from the default. */
export const option = <T>(s: OptionSpec<T>): OptionSpec<T> => s;

/** pino's levels, shared by every command's `logLevel` option. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** The frozen object `resolveOptions` builds from a spec table. */
export type ResolvedOptions<S extends Record<string, OptionSpec<unknown>>> = {
  readonly [K in keyof S]: S[K]["default"];
};

/** A value failed validation; the message names the key and the source. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Parses one raw value (string from env/flag, or a TOML value) against its spec. */
export function parseOption<T>(key: string, spec: OptionSpec<T>, raw: unknown, source: string): T {
  const where = `${key} (from ${source})`;
  switch (spec.type) {
    case "int":
    case "number": {
      const n =
        typeof raw === "number"
          ? raw
          : typeof raw === "string" && raw.trim() !== ""
            ? Number(raw)
            : Number.NaN;
      if (!Number.isFinite(n) || (spec.type === "int" && !Number.isInteger(n))) {
        throw new ConfigError(
          `${where}: expected ${spec.type === "int" ? "an integer" : "a number"}, got ${JSON.stringify(raw)}`,
        );
      }
      if (spec.min !== undefined && n < spec.min)
        throw new ConfigError(`${where}: must be ≥ ${spec.min}, got ${n}`);
      if (spec.max !== undefined && n > spec.max)
        throw new ConfigError(`${where}: must be ≤ ${spec.max}, got ${n}`);
      return n as T;
    }
    case "bool": {
      if (typeof raw === "boolean") return raw as T;
      const s = String(raw).trim().toLowerCase();
      if (["1", "true", "yes", "on"].includes(s)) return true as T;
      if (["0", "false", "no", "off"].includes(s)) return false as T;
      throw new ConfigError(`${where}: expected true or false, got ${JSON.stringify(raw)}`);
    }
    case "list": {
      const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(",");
      return items.map((s) => s.trim()).filter((s) => s.length > 0) as T;
    }
    case "string": {
      if (typeof raw !== "string")
        throw new ConfigError(`${where}: expected a string, got ${JSON.stringify(raw)}`);
      const s = raw.trim();
      if (spec.choices && !spec.choices.includes(s)) {
        throw new ConfigError(
          `${where}: must be one of ${spec.choices.join(", ")}; got ${JSON.stringify(raw)}`,
        );
      }
      return s as T;
    }
  }
}

/** Looks up a dotted path in a parsed TOML document. */
function tomlLookup(doc: Record<string, unknown>, path: string): unknown {
  let cur: unknown = doc;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Sources of raw values, in precedence order: flags > env > TOML > defaults. */
export interface ConfigSources {
  readonly flags: Readonly<Record<string, unknown>>;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly toml: Readonly<Record<string, unknown>>;
}

/** Resolves and validates every option of a spec table, returning a frozen object. */
export function resolveOptions<S extends Record<string, OptionSpec<unknown>>>(
  specs: S,
  sources: ConfigSources,
): ResolvedOptions<S> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const flag = sources.flags[key];
    if (flag !== undefined) {
      out[key] = parseOption(key, spec, flag, `--${kebab(key)}`);
      continue;
    }
    const envName = spec.env.find((n) => sources.env[n] !== undefined && sources.env[n] !== "");
    if (envName) {
      out[key] = parseOption(key, spec, sources.env[envName], envName);
      continue;
    }
    const fromToml = spec.toml ? tomlLookup(sources.toml as Record<string, unknown>, spec.toml) : undefined;
    if (fromToml !== undefined) {
      out[key] = parseOption(key, spec, fromToml, `config.toml [${spec.toml}]`);
      continue;
    }
    out[key] = spec.default;
  }
  return Object.freeze(out) as ResolvedOptions<S>;
}

/** camelCase → kebab-case, for flag names in messages. */
export function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
