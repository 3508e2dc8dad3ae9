import type { Command } from "commander";
import type { OpsConnection, OpsFlags } from "./client.js";
import type { Render } from "./fleet.js";

type Handler = (conn: OpsConnection, render: Render) => Promise<string>;

/** Adds the flags every operator command shares. */
function common(cmd: Command): Command {
  return cmd
    .option("--server <url>", "control plane URL [env: LLMLB_SERVER] (default: http://127.0.0.1:8080)")
    .option("--api-key <key>", "admin API key or login token [env: LLMLB_API_KEY]")
    .option("--json", "print the server's JSON instead of a table");
}

/**
 * Runs one operator command: resolves the connection, prints the result, and turns failures into
 * a one-line message on stderr and a documented exit code (see EXIT in client.ts).
 */
async function run(flags: OpsFlags, handler: Handler): Promise<void> {
  // Loaded on use, like the other commands: `llmlb agent` never pays for these.
  const { EXIT, OpsError, resolveConnection } = await import("./client.js");
  try {
    const conn = resolveConnection(flags, process.env);
    const render: Render = (json, human) => (flags.json ? `${JSON.stringify(json, null, 2)}\n` : human());
    process.stdout.write(await handler(conn, render));
  } catch (err) {
    if (!(err instanceof OpsError)) throw err;
    process.stderr.write(`llmlb: ${err.message}\n`);
    process.exitCode = err.exitCode === EXIT.ok ? EXIT.failed : err.exitCode;
  }
}

const fleet = () => import("./fleet.js");
const creds = () => import("./credentials.js");

/** Registers `nodes`, `load`, `lb-strategy`, `keys`, `node-tokens` and `users` on the CLI. */
export function registerOpsCommands(program: Command): void {
  common(program.command("nodes").description("list the nodes of a running control plane")).action(
    (o: OpsFlags) => run(o, async (c, r) => (await fleet()).nodesCommand(c, r)),
  );
  common(
    program
      .command("load")
      .description("load per node, as seed 004's load view (all nodes, or one)")
      .argument("[node]", "one node id"),
  ).action((node: string | undefined, o: OpsFlags) =>
    run(o, async (c, r) => (await fleet()).loadCommand(c, node, r)),
  );
  common(
    program
      .command("lb-strategy")
      .description("show the load balancing strategy, or set it")
      .argument("[name]", "strategy to switch to"),
  ).action((name: string | undefined, o: OpsFlags) =>
    run(o, async (c, r) => (await fleet()).strategyCommand(c, name, r)),
  );

  const keys = program.command("keys").description("manage API keys");
  common(
    keys
      .command("create")
      .description("create an API key (printed once)")
      .option("--name <name>", "a label for the key")
      .option("--scopes <list>", "inference, admin or inference,admin (default: inference)")
      .option("--owner <user-id>", "owning user (default: you); the fair-queue user of its requests")
      .option("--rpm <n>", "requests per minute limit")
      .option("--tpm <n>", "tokens per minute limit"),
  ).action((o: OpsFlags & { name?: string; scopes?: string; owner?: string; rpm?: string; tpm?: string }) =>
    run(o, async (c, r) => (await creds()).keysCreate(c, o, r)),
  );
  common(
    keys.command("list").description("list API keys").option("--owner <user-id>", "only this user's keys"),
  ).action((o: OpsFlags & { owner?: string }) =>
    run(o, async (c, r) => (await creds()).keysList(c, o.owner, r)),
  );
  common(keys.command("revoke").description("revoke an API key").argument("<id>", "key id")).action(
    (id: string, o: OpsFlags) => run(o, async (c, r) => (await creds()).keysRevoke(c, id, r)),
  );

  const tokens = program.command("node-tokens").description("manage node tokens (agents' credentials)");
  common(
    tokens
      .command("create")
      .description("create a node token (printed once)")
      .option("--name <name>", "a label"),
  ).action((o: OpsFlags & { name?: string }) =>
    run(o, async (c, r) => (await creds()).tokensCreate(c, o.name, r)),
  );
  common(tokens.command("list").description("list node tokens")).action((o: OpsFlags) =>
    run(o, async (c, r) => (await creds()).tokensList(c, r)),
  );
  common(
    tokens
      .command("revoke")
      .description("revoke a node token; its nodes disconnect at once")
      .argument("<id>", "token id"),
  ).action((id: string, o: OpsFlags) => run(o, async (c, r) => (await creds()).tokensRevoke(c, id, r)));

  const users = program.command("users").description("manage users (admin)");
  common(users.command("list").description("list users")).action((o: OpsFlags) =>
    run(o, async (c, r) => (await creds()).usersList(c, r)),
  );
  common(
    users
      .command("create")
      .description("create a user")
      .argument("<username>", "login name")
      .option("--password <password>", "the password (or --password-stdin)")
      .option("--password-stdin", "read the password from stdin (keeps it out of shell history)")
      .option("--role <role>", "admin or user (default: user)"),
  ).action((username: string, o: OpsFlags & { password?: string; passwordStdin?: boolean; role?: string }) =>
    run(o, async (c, r) => {
      const { EXIT, OpsError } = await import("./client.js");
      const password = o.passwordStdin ? (await readStdin()).replace(/\r?\n$/, "") : o.password;
      if (!password) throw new OpsError("a password is required: --password or --password-stdin", EXIT.usage);
      return (await creds()).usersCreate(c, username, password, o.role, r);
    }),
  );
  common(
    users
      .command("delete")
      .description("delete a user and their API keys")
      .argument("<user>", "id or username"),
  ).action((who: string, o: OpsFlags) => run(o, async (c, r) => (await creds()).usersDelete(c, who, r)));
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
