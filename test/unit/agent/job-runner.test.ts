import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { createVllmAdapter } from "../../../src/agent/engines/vllm.js";
import { type ChunkInit, runJob } from "../../../src/agent/job-runner.js";
import { JobKind, JobSchema } from "../../../src/gen/llmlb/v1/node_pb.js";

const sse = (o: unknown) => `data: ${typeof o === "string" ? o : JSON.stringify(o)}\n\n`;
const delta = (content: string, finish: string | null = null) => ({
  choices: [{ index: 0, delta: { content }, finish_reason: finish }],
});

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  server = undefined;
});

/** An engine that streams `parts` (written `gapMs` apart), then ends the body once `endWhen` settles. */
async function engine(parts: string[], gapMs: number, endWhen: Promise<unknown>): Promise<string> {
  const srv = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { "content-type": "text/event-stream" });
    let i = 0;
    const next = () => {
      if (i < parts.length) {
        res.write(parts[i++]);
        setTimeout(next, gapMs);
      } else void endWhen.then(() => res.end());
    };
    next();
  });
  server = srv;
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
}

async function run(url: string, onDone: () => void = () => {}): Promise<ChunkInit[]> {
  const job = create(JobSchema, {
    jobId: "j1",
    model: "m",
    kind: JobKind.CHAT_COMPLETION,
    requestJson: new TextEncoder().encode(JSON.stringify({ messages: [{ role: "user", content: "hi" }] })),
  });
  const chunks: ChunkInit[] = [];
  await runJob(
    job,
    createVllmAdapter(url),
    (c) => {
      chunks.push(c);
      if (c.done) onDone();
    },
    new AbortController().signal,
    "",
  );
  return chunks;
}

describe("runJob: reporting the end of a job", () => {
  it("sends the last text, the usage and the end in one message as soon as [DONE] arrives", async () => {
    const usage = { choices: [], usage: { prompt_tokens: 5, completion_tokens: 3 } };
    // The engine keeps the body open until the job has been reported done: were the end to wait
    // for the body, this would never finish.
    let reported!: () => void;
    const done = new Promise<void>((r) => {
      reported = r;
    });
    const url = await engine(
      [sse(delta("Hel")), sse(delta("lo")) + sse(delta("!", "stop")) + sse(usage) + sse("[DONE]")],
      30,
      done,
    );
    const chunks = await run(url, reported);
    expect(chunks.map((c) => [c.textDelta ?? "", c.finishReason ?? "", c.done ?? false])).toEqual([
      ["Hel", "", false],
      ["lo!", "stop", true],
    ]);
    expect(chunks[1]?.usage).toMatchObject({ promptTokens: 5, completionTokens: 3 });
    expect(chunks.map((c) => c.index)).toEqual([0, 1]);
  });

  it("an engine that ends its body without [DONE] still gets one closing message", async () => {
    const url = await engine([sse(delta("a")), sse(delta("b", "length"))], 10, Promise.resolve());
    const chunks = await run(url);
    expect(chunks.map((c) => [c.textDelta ?? "", c.finishReason ?? "", c.done ?? false])).toEqual([
      ["a", "", false],
      ["b", "length", false],
      ["", "", true],
    ]);
  });
});
