// Reading JSON bodies and writing JSON / SSE responses on bare node:http.
import type { IncomingMessage, ServerResponse } from "node:http";
import { SimHttpError } from "./requests.js";

/** Largest request body accepted; larger ones get 413. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** Headers of an SSE stream. */
export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
};

/** Writes a complete JSON response. */
export function sendJson(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Writes a complete plain-text response with the given content type. */
export function sendText(res: ServerResponse, status: number, contentType: string, text: string): void {
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Reads and parses a JSON body; rejects with 400 (bad JSON) or 413 (too large). */
export function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      // Over the limit: stop buffering but keep reading, so the 413 can still be delivered.
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on("error", reject);
    req.on("end", () => {
      if (size > MAX_BODY_BYTES) {
        reject(new SimHttpError(413, `Request body is larger than ${MAX_BODY_BYTES} bytes.`));
        return;
      }
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch (err) {
        reject(new SimHttpError(400, `JSON decode error: ${(err as Error).message}`));
      }
    });
  });
}
