import type { OutgoingHttpHeaders } from "node:http";
import type { FastifyInstance } from "fastify";
import { requireScope } from "../http/guard.js";
import type { Credentials } from "../http/principal.js";
import type { EventHub } from "./event-hub.js";

/**
 * `GET /v0/events` (admin): a text/event-stream of `snapshot`, then `nodes` and `fleet` frames.
 *
 * Auth is the usual `Authorization: Bearer` header: the dashboard reads the stream with fetch()
 * rather than EventSource, so the JWT never goes into a URL, where proxies and access logs keep it.
 */
export function registerEventsRoute(app: FastifyInstance, credentials: Credentials, hub: EventHub): void {
  app.get("/v0/events", { onRequest: requireScope(credentials, "admin") }, (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    const headers: OutgoingHttpHeaders = {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
      "x-request-id": String(req.id),
    };
    // HTTP/2 forbids connection-specific headers.
    if (req.raw.httpVersionMajor === 1) headers.connection = "keep-alive";
    res.writeHead(200, headers);
    const remove = hub.add({
      write: (frame) => res.write(frame),
      buffered: () => res.writableLength,
      end: () => res.end(),
    });
    // 'close' fires when the client goes away or we end the stream: either way, stop sending.
    res.on("close", remove);
  });
}
