// The admin API client. The JWT lives in sessionStorage: it survives a reload of this tab but not
// the tab itself, is never sent in a URL, and is dropped on logout or the first 401.

const KEY = "llmlb.session";
const listeners = new Set();

/** The current session ({token, expires_at, username}) or null. */
export function session() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) ?? "null");
    if (!s || typeof s.token !== "string") return null;
    if (s.expires_at && Date.parse(s.expires_at) <= Date.now()) {
      sessionStorage.removeItem(KEY);
      return null;
    }
    return s;
  } catch {
    return null;
  }
}

/** Calls fn(session or null) whenever the user logs in or out. */
export function onSessionChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function setSession(s) {
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
  for (const fn of listeners) fn(s);
}

/** An error from the API, with its HTTP status and the OpenAI-shaped message. */
export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function errorOf(res) {
  let message = `${res.status} ${res.statusText}`;
  let code;
  try {
    const j = await res.json();
    if (j?.error?.message) message = j.error.message;
    code = j?.error?.code;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, message, code);
}

/** Logs in; resolves with the session, rejects with an ApiError carrying the server's message. */
export async function login(username, password) {
  const res = await fetch("/v0/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw await errorOf(res);
  const j = await res.json();
  const s = { token: j.token, expires_at: j.expires_at, username: j.user?.username ?? username };
  setSession(s);
  return s;
}

/** Forgets the session (the JWT simply expires server-side; there is nothing to revoke). */
export function logout() {
  setSession(null);
}

/** The Authorization header for the current session. */
export function authHeaders() {
  const s = session();
  return s ? { authorization: `Bearer ${s.token}` } : {};
}

/** A JSON call to the admin API; a 401 ends the session. */
export async function api(method, path, body) {
  const headers = { ...authHeaders() };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401) {
    logout();
    throw await errorOf(res);
  }
  if (!res.ok) throw await errorOf(res);
  return res.status === 204 ? null : res.json();
}
