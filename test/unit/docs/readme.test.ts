import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { AGENT_OPTIONS } from "../../../src/agent/agent-config.js";
import { SIM_OPTIONS } from "../../../src/cli/sim-options.js";
import { SERVER_OPTIONS } from "../../../src/config/server-config.js";
import { kebab } from "../../../src/config/spec.js";

const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");

describe("README stays true to the option tables", () => {
  for (const [command, specs] of Object.entries({
    serve: SERVER_OPTIONS,
    agent: AGENT_OPTIONS,
    sim: SIM_OPTIONS,
  })) {
    it(`documents every ${command} flag and env var`, () => {
      for (const [key, spec] of Object.entries(specs as Record<string, { env: readonly string[] }>)) {
        expect(readme, `--${kebab(key)}`).toContain(`\`--${kebab(key)}\``);
        for (const env of spec.env) expect(readme, env).toContain(`\`${env}\``);
      }
    });
  }
});
