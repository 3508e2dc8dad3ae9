import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { LbError, toLbError } from "../errors.js";

/**
 * Every error leaves as OpenAI-shaped JSON with the right status, `Retry-After` where it applies,
 * and never a stack trace; 5xx are logged (without the request body, which may hold a prompt).
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const err = error.validation ? validationError(error) : toLbError(error);
    if (err.status >= 500 && err.code === "internal") {
      // Hot routes log through the root logger (no per-request child): name the request there.
      const bound = req.log !== req.server.log;
      req.log.error(bound ? { err: error } : { err: error, reqId: req.id }, "request failed");
    }
    sendError(reply, err);
  });
  app.setNotFoundHandler((req, reply) => {
    sendError(reply, new LbError("not_found", `No route for ${req.method} ${req.url.split("?")[0]}.`));
  });
}

/** Writes an LbError as the response. */
export function sendError(reply: FastifyReply, err: LbError): void {
  if (err.extra.retryAfterSeconds !== undefined)
    reply.header("retry-after", String(err.extra.retryAfterSeconds));
  reply.code(err.status).type("application/json").send(err.toOpenAI());
}

function validationError(error: FastifyError): LbError {
  const first = error.validation?.[0];
  const path = first?.instancePath?.replace(/^\//, "").replace(/\//g, ".") ?? "";
  const missing = (first?.params as { missingProperty?: string } | undefined)?.missingProperty;
  const param = missing ? (path ? `${path}.${missing}` : missing) : path;
  return new LbError("invalid_request", `Invalid request: ${error.message}`, param ? { param } : {});
}
