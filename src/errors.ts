import { Code, ConnectError } from "@connectrpc/connect";
import { StoreError } from "./store/errors.js";

/**
 * Every error llmlb reports, in one table: HTTP status, OpenAI error type and the Connect/gRPC code.
 * Routes and RPC handlers throw LbError; the edges map it to their wire format.
 */
export const ERROR_TABLE = {
  // Malformed JSON, schema violations, bad query/header values.
  invalid_request: { status: 400, type: "invalid_request_error", grpc: Code.InvalidArgument },
  // Body over the configured limit: 413 is what HTTP clients expect for this.
  body_too_large: { status: 413, type: "invalid_request_error", grpc: Code.ResourceExhausted },
  // Missing, malformed, unknown or revoked credential.
  invalid_api_key: { status: 401, type: "invalid_request_error", grpc: Code.Unauthenticated },
  // Wrong username or password at login: one answer for both, so usernames cannot be probed.
  invalid_credentials: { status: 401, type: "invalid_request_error", grpc: Code.Unauthenticated },
  // Valid credential without the scope the route needs.
  insufficient_scope: { status: 403, type: "invalid_request_error", grpc: Code.PermissionDenied },
  // No node has ever served the model.
  model_not_found: { status: 404, type: "invalid_request_error", grpc: Code.NotFound },
  // Unknown route, node, job, key or user.
  not_found: { status: 404, type: "invalid_request_error", grpc: Code.NotFound },
  // The user's share of the queue is full: back off and retry.
  user_queue_full: { status: 429, type: "rate_limit_error", grpc: Code.ResourceExhausted },
  // The global queue is full: back off and retry.
  queue_full: { status: 429, type: "rate_limit_error", grpc: Code.ResourceExhausted },
  // A name is taken, a static credential cannot be revoked, the last admin cannot go, a node is not connected.
  conflict: { status: 409, type: "invalid_request_error", grpc: Code.FailedPrecondition },
  // Per-key RPM/TPM limit, or too many failed logins.
  rate_limit_exceeded: { status: 429, type: "rate_limit_error", grpc: Code.ResourceExhausted },
  // Known model, but no node online for it right now: busy, not broken.
  no_node_available: { status: 503, type: "server_error", grpc: Code.Unavailable },
  // The control plane is shutting down.
  shutting_down: { status: 503, type: "server_error", grpc: Code.Unavailable },
  // Waited or ran past the request's deadline.
  deadline_exceeded: { status: 504, type: "timeout_error", grpc: Code.DeadlineExceeded },
  // The engine refused or failed the request.
  engine_error: { status: 502, type: "server_error", grpc: Code.Unavailable },
  // The node went away after the first token; the partial result cannot be retried.
  node_lost: { status: 502, type: "server_error", grpc: Code.Unavailable },
  // The client cancelled.
  cancelled: { status: 499, type: "invalid_request_error", grpc: Code.Canceled },
  // Anything we did not anticipate; the message never carries a stack.
  internal: { status: 500, type: "server_error", grpc: Code.Internal },
} as const;

/** One of the closed set of error codes. */
export type LbErrorCode = keyof typeof ERROR_TABLE;

/** The one error class llmlb throws across layers. */
export class LbError extends Error {
  override readonly name = "LbError";
  constructor(
    readonly code: LbErrorCode,
    message: string,
    readonly extra: { param?: string; retryAfterSeconds?: number; status?: number } = {},
  ) {
    super(message);
  }

  /** HTTP status for this error (an engine's own 4xx status passes through). */
  get status(): number {
    return this.extra.status ?? ERROR_TABLE[this.code].status;
  }

  /** The OpenAI-shaped error body. */
  toOpenAI(): { error: { message: string; type: string; param: string | null; code: string } } {
    return {
      error: {
        message: this.message,
        type: ERROR_TABLE[this.code].type,
        param: this.extra.param ?? null,
        code: this.code,
      },
    };
  }

  /** The Connect/gRPC form of this error. */
  toConnect(): ConnectError {
    return new ConnectError(this.message, ERROR_TABLE[this.code].grpc);
  }
}

/** Maps anything thrown to an LbError; unknown errors become `internal` without leaking details. */
export function toLbError(err: unknown): LbError {
  if (err instanceof LbError) return err;
  if (err instanceof ConnectError) {
    // Errors from our own RPC clients keep their meaning.
    const byCode: Partial<Record<Code, LbErrorCode>> = {
      [Code.InvalidArgument]: "invalid_request",
      [Code.Unauthenticated]: "invalid_api_key",
      [Code.PermissionDenied]: "insufficient_scope",
      [Code.NotFound]: "not_found",
      [Code.ResourceExhausted]: "queue_full",
      [Code.Unavailable]: "no_node_available",
      [Code.DeadlineExceeded]: "deadline_exceeded",
      [Code.Canceled]: "cancelled",
    };
    return new LbError(byCode[err.code] ?? "internal", err.rawMessage);
  }
  if (err instanceof StoreError) {
    // The store's messages name the field and never a secret; a schema error is a server fault.
    if (err.code === "conflict") return new LbError("conflict", err.message);
    if (err.code === "invalid_argument") return new LbError("invalid_request", err.message);
    return new LbError("internal", "Internal error.");
  }
  const e = err as { statusCode?: number; code?: string; message?: string };
  // fastify's own errors: body parser and limits.
  if (e?.code === "FST_ERR_CTP_BODY_TOO_LARGE")
    return new LbError("body_too_large", "Request body is too large.");
  if (e?.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE")
    return new LbError("invalid_request", "Content-Type must be application/json.");
  if (e?.code === "FST_ERR_CTP_EMPTY_JSON_BODY")
    return new LbError("invalid_request", "Request body is empty.");
  if (typeof e?.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    return new LbError("invalid_request", e.message ?? "Bad request.");
  }
  return new LbError("internal", "Internal error.");
}
