import type { ApiKeyPublic, NodeTokenPublic, UserPublic } from "../../auth/index.js";
import { EXIT, type OpsConnection, OpsError, request } from "./client.js";
import type { Render } from "./fleet.js";
import { table, when } from "./table.js";

/** Options of `llmlb keys create`. */
export interface KeyCreateOptions {
  name?: string;
  scopes?: string;
  owner?: string;
  rpm?: string;
  tpm?: string;
}

function status(c: { revoked_at: string | null; static: boolean }): string {
  return c.revoked_at ? "revoked" : c.static ? "static" : "active";
}

function positiveInt(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new OpsError(`${flag} must be a positive integer, got ${JSON.stringify(v)}`, EXIT.usage);
  return n;
}

/** `llmlb keys create`: prints the new key once. */
export async function keysCreate(conn: OpsConnection, o: KeyCreateOptions, render: Render): Promise<string> {
  const body: Record<string, unknown> = {};
  if (o.name !== undefined) body.name = o.name;
  if (o.scopes !== undefined)
    body.scopes = o.scopes
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  if (o.owner !== undefined) body.owner_user_id = o.owner;
  const rpm = positiveInt(o.rpm, "--rpm");
  const tpm = positiveInt(o.tpm, "--tpm");
  if (rpm !== undefined) body.rpm_limit = rpm;
  if (tpm !== undefined) body.tpm_limit = tpm;
  const res = await request<{ key: string; api_key: ApiKeyPublic }>(conn, "POST", "/v0/api-keys", body);
  const k = res.api_key;
  return render(
    res,
    () =>
      `Created API key ${k.id} (${k.name}), scopes: ${k.scopes.join(",")}\n` +
      `Key (shown once, store it now): ${res.key}\n`,
  );
}

/** `llmlb keys list`. */
export async function keysList(
  conn: OpsConnection,
  owner: string | undefined,
  render: Render,
): Promise<string> {
  const q = owner === undefined ? "" : `?owner_user_id=${encodeURIComponent(owner)}`;
  const res = await request<{ api_keys: ApiKeyPublic[] }>(conn, "GET", `/v0/api-keys${q}`);
  return render(res, () =>
    table(
      ["ID", "NAME", "PREFIX", "OWNER", "SCOPES", "RPM", "TPM", "CREATED", "LAST USED", "STATUS"],
      res.api_keys.map((k) => [
        k.id,
        k.name,
        k.prefix,
        k.owner_user_id,
        k.scopes.join(","),
        k.rpm_limit,
        k.tpm_limit,
        when(k.created_at),
        when(k.last_used_at),
        status(k),
      ]),
    ),
  );
}

/** `llmlb keys revoke ID`. */
export async function keysRevoke(conn: OpsConnection, id: string, render: Render): Promise<string> {
  const res = await request<{ api_key: ApiKeyPublic }>(
    conn,
    "DELETE",
    `/v0/api-keys/${encodeURIComponent(id)}`,
  );
  return render(res, () => `Revoked API key ${res.api_key.id} (${res.api_key.name}).\n`);
}

/** `llmlb node-tokens create`: prints the new token once. */
export async function tokensCreate(
  conn: OpsConnection,
  name: string | undefined,
  render: Render,
): Promise<string> {
  const res = await request<{ token: string; node_token: NodeTokenPublic }>(
    conn,
    "POST",
    "/v0/node-tokens",
    name === undefined ? {} : { name },
  );
  return render(
    res,
    () =>
      `Created node token ${res.node_token.id} (${res.node_token.name})\n` +
      `Token (shown once; give it to the agent as LLMLB_NODE_TOKEN): ${res.token}\n`,
  );
}

/** `llmlb node-tokens list`. */
export async function tokensList(conn: OpsConnection, render: Render): Promise<string> {
  const res = await request<{ node_tokens: NodeTokenPublic[] }>(conn, "GET", "/v0/node-tokens");
  return render(res, () =>
    table(
      ["ID", "NAME", "PREFIX", "CREATED", "LAST USED", "STATUS"],
      res.node_tokens.map((t) => [
        t.id,
        t.name,
        t.prefix,
        when(t.created_at),
        when(t.last_used_at),
        status(t),
      ]),
    ),
  );
}

/** `llmlb node-tokens revoke ID`: the server closes that token's node streams at once. */
export async function tokensRevoke(conn: OpsConnection, id: string, render: Render): Promise<string> {
  const res = await request<{ node_token: NodeTokenPublic }>(
    conn,
    "DELETE",
    `/v0/node-tokens/${encodeURIComponent(id)}`,
  );
  return render(
    res,
    () => `Revoked node token ${res.node_token.id} (${res.node_token.name}); its nodes are disconnected.\n`,
  );
}

/** `llmlb users list`. */
export async function usersList(conn: OpsConnection, render: Render): Promise<string> {
  const res = await request<{ users: UserPublic[] }>(conn, "GET", "/v0/users");
  return render(res, () =>
    table(
      ["ID", "USERNAME", "ROLE", "STATUS", "CREATED"],
      res.users.map((u) => [
        u.id,
        u.username,
        u.role,
        u.disabled ? "disabled" : "active",
        when(u.created_at),
      ]),
    ),
  );
}

/** `llmlb users create USERNAME`. */
export async function usersCreate(
  conn: OpsConnection,
  username: string,
  password: string,
  role: string | undefined,
  render: Render,
): Promise<string> {
  const res = await request<{ user: UserPublic }>(conn, "POST", "/v0/users", {
    username,
    password,
    ...(role !== undefined ? { role } : {}),
  });
  return render(res, () => `Created ${res.user.role} ${res.user.username} (${res.user.id}).\n`);
}

/** `llmlb users delete ID|USERNAME`: a username is resolved through the list first. */
export async function usersDelete(conn: OpsConnection, who: string, render: Render): Promise<string> {
  const { users } = await request<{ users: UserPublic[] }>(conn, "GET", "/v0/users");
  const match =
    users.find((u) => u.id === who) ?? users.find((u) => u.username.toLowerCase() === who.toLowerCase());
  if (!match)
    throw new OpsError(`not found (404): no user with id or username ${JSON.stringify(who)}`, EXIT.notFound);
  const res = await request<{ id: string; deleted: boolean }>(
    conn,
    "DELETE",
    `/v0/users/${encodeURIComponent(match.id)}`,
  );
  return render(res, () => `Deleted user ${match.username} (${match.id}) and their API keys.\n`);
}
