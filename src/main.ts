import { Command, Option } from "commander";
// Command implementations load lazily: a sim or agent process should not pay for the control plane.
import { AGENT_OPTIONS } from "./agent/agent-config.js";
import { registerOpsCommands } from "./cli/ops/commands.js";
import { SIM_OPTIONS } from "./cli/sim-options.js";
import { SERVER_OPTIONS } from "./config/server-config.js";
import { ConfigError, kebab, type OptionSpec } from "./config/spec.js";

/** Adds one `--flag <value>` per option of a spec table; env names appear in --help. */
function addOptions(cmd: Command, specs: Record<string, OptionSpec<unknown>>): Command {
  for (const [key, s] of Object.entries(specs)) {
    const flag = s.type === "bool" ? `--${kebab(key)} [bool]` : `--${kebab(key)} <value>`;
    const env = s.env.length > 0 ? ` [env: ${s.env.join(", ")}]` : "";
    const def = Array.isArray(s.default) ? "" : ` (default: ${JSON.stringify(s.default)})`;
    cmd.addOption(new Option(flag, `${s.description}${def}${env}`));
  }
  return cmd;
}

const program = new Command("llmlb")
  .description("GPU-aware load balancer and control plane for LLM inference")
  .version("0.1.0")
  .showHelpAfterError();

addOptions(
  program.command("serve").description("run the control plane").option("--config <file>", "config.toml path"),
  SERVER_OPTIONS,
).action(async (o) => (await import("./cli/serve.js")).serveCommand(o));
addOptions(
  program
    .command("agent")
    .description("run the node agent beside an engine")
    .option("--config <file>", "config.toml path"),
  AGENT_OPTIONS,
).action(async (o) => (await import("./cli/agent.js")).agentCommand(o));
addOptions(
  program.command("sim").description("run a simulated engine (OpenAI API, vLLM metrics)"),
  SIM_OPTIONS,
).action(async (o) => (await import("./cli/sim.js")).simCommand(o));
addOptions(
  program
    .command("demo")
    .description("control plane + a heterogeneous fleet of simulated nodes, ready for curl")
    .option("--config <file>", "config.toml path")
    .option("--time-scale <n>", "simulated engines run this many times faster than real time", "1"),
  SERVER_OPTIONS,
).action(async (o) => (await import("./cli/demo.js")).demoCommand(o));
program
  .command("bench")
  .description("benchmarks: overhead | select | routing | fairness | dispatch | agent")
  .argument("<name>", "which benchmark")
  .option("--out <file>", "write the JSON results here")
  .option("--quick", "a shorter run (for smoke tests)")
  .action(async (name, o) => (await import("./cli/bench.js")).benchCommand(name, o));

// Operator commands against a running control plane: nodes, load, lb-strategy, keys, node-tokens, users.
registerOpsCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(`llmlb: configuration error: ${err.message}`);
    process.exit(2);
  }
  console.error(`llmlb: ${(err as Error).message ?? err}`);
  process.exit(1);
});
