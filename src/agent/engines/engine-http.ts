import { BodyTooLargeError, engineRequest, readBody } from "./engine-client.js";

/** Why a call to the engine failed. */
export type EngineHttpErrorCode = "unreachable" | "timeout" | "http_status" | "bad_body";

/** The one error type engine calls throw; adapters turn it into notes, never crashes. */
export class EngineHttpError extends Error {
  override readonly name = "EngineHttpError";
  constructor(
    readonly code: EngineHttpErrorCode,
    message: string,
    /** HTTP status for "http_status". */
    readonly status?: number,
  ) {
    super(message);
  }
}

const UNREACHABLE = new Set([
  "ECONNREFUSED", // nothing listens: engine down or still starting
  "ECONNRESET", // engine crashed mid-request
  "EPIPE",
  "ENOTFOUND", // DNS name does not resolve
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNABORTED",
]);
/** Stands for "the request's own deadline passed", whatever error the socket reported for it. */
const TIMED_OUT = { code: "ETIMEDOUT" };

/** Maps anything a request can throw (errno codes, a passed deadline) to an EngineHttpError. */
function toEngineHttpError(err: unknown, url: string, timeoutMs: number): EngineHttpError {
  if (err instanceof EngineHttpError) return err;
  const e = err as { code?: string; message?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code ?? "";
  if (code === "ETIMEDOUT") {
    return new EngineHttpError("timeout", `GET ${url} timed out after ${timeoutMs} ms`);
  }
  if (UNREACHABLE.has(code)) return new EngineHttpError("unreachable", `GET ${url} failed: ${code}`);
  return new EngineHttpError("unreachable", `GET ${url} failed: ${e.message ?? String(err)}`);
}

/** An HTTP response as adapters need it. */
export interface EngineResponse {
  status: number;
  body: string;
}

/** GET helpers bound to one engine base URL. */
export interface EngineHttp {
  /** Any status; throws only when no response arrived. */
  get(path: string): Promise<EngineResponse>;
  /** 2xx body as text; other statuses throw "http_status". */
  text(path: string): Promise<string>;
  /** 2xx body parsed as JSON; a body that is not JSON throws "bad_body". */
  json(path: string): Promise<unknown>;
}

/** Largest body read from an engine; a /metrics page is ~100 KB, anything far bigger is a mistake. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** Creates GET helpers with a per-request timeout and optional bearer key. */
export function createEngineHttp(baseUrl: string, opts: { apiKey?: string; timeoutMs: number }): EngineHttp {
  const root = baseUrl.replace(/\/+$/, "");
  const headers: Record<string, string> = { accept: "application/json, text/plain;q=0.9, */*;q=0.5" };
  if (opts.apiKey) headers.authorization = `Bearer ${opts.apiKey}`;

  const get = async (path: string): Promise<EngineResponse> => {
    const url = `${root}${path}`;
    // One deadline for headers and body together. A deadline that fires while the body streams
    // surfaces as the socket's "aborted" error, so the signal, not the error, says it was time.
    // (A pooled connection the engine closed while idle is retried inside engineRequest.)
    const deadline = AbortSignal.timeout(opts.timeoutMs);
    try {
      const res = await engineRequest(new URL(url), { method: "GET", headers, signal: deadline });
      return { status: res.statusCode ?? 0, body: (await readBody(res, MAX_BODY_BYTES)).toString("utf8") };
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        throw new EngineHttpError("bad_body", `GET ${url}: body is larger than ${MAX_BODY_BYTES} bytes`);
      }
      throw toEngineHttpError(deadline.aborted ? TIMED_OUT : err, url, opts.timeoutMs);
    }
  };

  const text = async (path: string): Promise<string> => {
    const res = await get(path);
    if (res.status < 200 || res.status >= 300) {
      throw new EngineHttpError(
        "http_status",
        `GET ${root}${path}: HTTP ${res.status} ${res.body.slice(0, 200)}`.trim(),
        res.status,
      );
    }
    return res.body;
  };

  return {
    get,
    text,
    async json(path) {
      const body = await text(path);
      try {
        return JSON.parse(body) as unknown;
      } catch {
        throw new EngineHttpError("bad_body", `GET ${root}${path}: body is not JSON`);
      }
    },
  };
}

/** A short reason for a note: the EngineHttpError message, or the error's own. */
export function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
