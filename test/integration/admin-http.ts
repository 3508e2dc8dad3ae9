/** A response as the admin tests look at it: status, parsed JSON (when it is JSON), raw text, headers. */
export interface Reply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON shapes
  json: any;
  text: string;
  headers: Headers;
}

/** Options of one call: a bearer token, an X-API-Key, a JSON body or a raw body. */
export interface CallOptions {
  token?: string;
  apiKey?: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

/** A tiny HTTP client bound to a base URL; every reply is also handed to `seen` (leak checks). */
export function httpClient(baseUrl: string, seen?: (r: Reply, path: string) => void) {
  return async function call(method: string, path: string, o: CallOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    if (o.apiKey) headers["x-api-key"] = o.apiKey;
    let body: string | undefined;
    if (o.body !== undefined) body = JSON.stringify(o.body);
    if (o.rawBody !== undefined) body = o.rawBody;
    if (body !== undefined) headers["content-type"] ??= "application/json";
    const res = await fetch(baseUrl + path, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const reply: Reply = { status: res.status, json, text, headers: res.headers };
    seen?.(reply, path);
    return reply;
  };
}

/** Logs in and returns the JWT. */
export async function login(
  call: ReturnType<typeof httpClient>,
  username: string,
  password: string,
): Promise<string> {
  const r = await call("POST", "/v0/auth/login", { body: { username, password } });
  if (r.status !== 200) throw new Error(`login as ${username} failed: ${r.status} ${r.text}`);
  return r.json.token as string;
}
