/** One Server-Sent Events frame; `data` is JSON on a single line, so no line splitting is needed. */
export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** An SSE comment line: keeps idle proxies from closing the stream, ignored by clients. */
export const SSE_KEEPALIVE = ": keepalive\n\n";
