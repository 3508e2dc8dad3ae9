/**
 * Splits a byte stream of Server-Sent Events into `data:` payloads. Engines send one JSON object per
 * event; comments, `event:` and `id:` lines are ignored, multi-line data is joined with "\n".
 */
export async function* sseData(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = "";
  let data: string[] = [];
  for await (const bytes of body) {
    buf += decoder.decode(bytes, { stream: true });
    let nl = buf.indexOf("\n");
    while (nl >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, "");
      buf = buf.slice(nl + 1);
      if (line === "") {
        if (data.length > 0) yield data.join("\n");
        data = [];
      } else if (line.startsWith("data:")) {
        data.push(line.slice(line.charAt(5) === " " ? 6 : 5));
      }
      nl = buf.indexOf("\n");
    }
  }
  if (data.length > 0) yield data.join("\n");
}
