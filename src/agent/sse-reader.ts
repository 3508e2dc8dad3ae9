/**
 * Splits a byte stream of Server-Sent Events into `data:` payloads. Engines send one JSON object per
 * event; comments, `event:` and `id:` lines are ignored, multi-line data is joined with "\n".
 */
export class SseParser {
  private readonly decoder = new TextDecoder();
  private buf = "";
  private data: string[] = [];

  /** Feeds bytes; returns the payloads of the events they completed. */
  push(bytes: Uint8Array): string[] {
    this.buf += this.decoder.decode(bytes, { stream: true });
    const out: string[] = [];
    let nl = this.buf.indexOf("\n");
    while (nl >= 0) {
      const line = this.buf.slice(0, nl).replace(/\r$/, "");
      this.buf = this.buf.slice(nl + 1);
      if (line === "") {
        if (this.data.length > 0) out.push(this.data.join("\n"));
        this.data = [];
      } else if (line.startsWith("data:")) {
        this.data.push(line.slice(line.charAt(5) === " " ? 6 : 5));
      }
      nl = this.buf.indexOf("\n");
    }
    return out;
  }

  /** The last event, if the stream ended without a blank line after it. */
  end(): string[] {
    const rest = this.data.length > 0 ? [this.data.join("\n")] : [];
    this.data = [];
    return rest;
  }
}

/** Yields the `data:` payloads of an SSE byte stream, one at a time. */
export async function* sseData(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const parser = new SseParser();
  for await (const bytes of body) yield* parser.push(bytes);
  yield* parser.end();
}
