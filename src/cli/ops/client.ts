/** Exit codes of the operator commands, documented in docs/admin.md. */
export const EXIT = {
  ok: 0,
  /** The server answered with an error not listed below (400, 409, 429, 5xx). */
  failed: 1,
  /** Bad arguments or missing settings (no API key, malformed --server). */
  usage: 2,
  /** 401 or 403: the key is missing, wrong, revoked, or lacks the admin scope. */
  auth: 3,
  /** 404: no such node, key, token or user. */
  notFound: 4,
  /** The server could not be reached (connection refused, unknown host, timeout). */
  unreachable: 5,
} as const;

/** An operator command failed; the message is for humans and the code is the process exit status. */
export class OpsError extends Error {
  override readonly name = "OpsError";
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Where and as whom the operator commands talk to a running control plane. */
export interface OpsConnection {
  readonly server: string;
  readonly apiKey: string;
}

/** The flags every operator command takes. */
export interface OpsFlags {
  server?: string;
  apiKey?: string;
  json?: boolean;
}

const DEFAULT_SERVER = "http://127.0.0.1:8080";
const TIMEOUT_MS = 30_000;

/** Resolves --server / LLMLB_SERVER and --api-key / LLMLB_API_KEY (flags win). */
export function resolveConnection(flags: OpsFlags, env: NodeJS.ProcessEnv): OpsConnection {
  const server = (flags.server ?? env.LLMLB_SERVER ?? DEFAULT_SERVER).trim().replace(/\/+$/, "");
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new OpsError(
      `--server must be a URL like ${DEFAULT_SERVER}, got ${JSON.stringify(server)}`,
      EXIT.usage,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new OpsError(
      `--server must be an http:// or https:// URL, got ${JSON.stringify(server)}`,
      EXIT.usage,
    );
  }
  const apiKey = (flags.apiKey ?? env.LLMLB_API_KEY ?? "").trim();
  if (apiKey === "") {
    throw new OpsError(
      "no API key: pass --api-key or set LLMLB_API_KEY (an admin key or a login token)",
      EXIT.usage,
    );
  }
  return { server, apiKey };
}

/** Calls the admin API and returns the parsed JSON body; every failure becomes an OpsError. */
export async function request<T>(
  conn: OpsConnection,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${conn.apiKey}`,
    accept: "application/json",
  };
  if (body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(conn.server + path, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    throw new OpsError(`cannot reach llmlb at ${conn.server}: ${networkReason(err)}`, EXIT.unreachable);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text === "" ? {} : JSON.parse(text);
  } catch {
    throw new OpsError(
      `${conn.server} answered ${res.status} with something that is not JSON: is it an llmlb server?`,
      EXIT.failed,
    );
  }
  if (res.ok) return json as T;
  throw httpError(res.status, errorMessage(json), res.headers.get("retry-after"));
}

function errorMessage(json: unknown): string {
  const msg = (json as { error?: { message?: unknown } } | null)?.error?.message;
  return typeof msg === "string" && msg !== "" ? msg : "no error message";
}

function httpError(status: number, message: string, retryAfter: string | null): OpsError {
  switch (status) {
    case 401:
      return new OpsError(
        `authentication failed (401): ${message} Check --api-key / LLMLB_API_KEY.`,
        EXIT.auth,
      );
    case 403:
      return new OpsError(`permission denied (403): ${message}`, EXIT.auth);
    case 404:
      return new OpsError(`not found (404): ${message}`, EXIT.notFound);
    case 429:
      return new OpsError(
        `rate limited (429): ${message}${retryAfter ? ` Retry after ${retryAfter} s.` : ""}`,
        EXIT.failed,
      );
    default:
      return new OpsError(`request failed (${status}): ${message}`, EXIT.failed);
  }
}

/** Turns fetch's "fetch failed" into the reason an operator can act on. */
function networkReason(err: unknown): string {
  const e = err as { name?: string; cause?: { code?: string; message?: string } };
  if (e?.name === "TimeoutError") return `no answer within ${TIMEOUT_MS / 1000} s`;
  switch (e?.cause?.code) {
    case "ECONNREFUSED":
      return "connection refused (is `llmlb serve` running there? set --server or LLMLB_SERVER)";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "unknown host";
    case "ECONNRESET":
      return "connection reset";
    default:
      return e?.cause?.message ?? (err as Error)?.message ?? String(err);
  }
}
