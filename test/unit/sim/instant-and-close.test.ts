import { describe, expect, it } from "vitest";
import { startSim } from "../../../src/sim/index.js";
import type { Chunk, Completion } from "./helpers.js";
import { chat, postJson, readSse, simState, waitFor } from "./helpers.js";

describe("instant mode", () => {
  it("answers at once in the same OpenAI shapes", async () => {
    const sim = await startSim({ profile: "h100", model: "llama-3.1-8b", instant: true });
    try {
      const plain = (await (
        await postJson(`${sim.url}/v1/chat/completions`, chat("hi"))
      ).json()) as Completion;
      expect(plain.object).toBe("chat.completion");
      expect(plain.choices[0].message.content).toBe("This is a simulated response.");
      expect(plain.choices[0].finish_reason).toBe("stop");
      expect(plain.usage.completion_tokens).toBe(6);

      const res = await postJson(
        `${sim.url}/v1/chat/completions`,
        chat("hi", { stream: true, max_tokens: 3, stream_options: { include_usage: true } }),
      );
      const sse = await readSse(res);
      expect(sse.data.at(-1)).toBe("[DONE]");
      const chunks = sse.json as unknown as Chunk[];
      expect(chunks.at(-1)?.choices).toEqual([]);
      expect(chunks.at(-1)?.usage?.completion_tokens).toBe(3);
      expect(chunks.at(-2)?.choices[0].finish_reason).toBe("length");

      const completion = (await (
        await postJson(`${sim.url}/v1/completions`, { prompt: "x", max_tokens: 50, ignore_eos: true })
      ).json()) as Completion;
      expect(completion.usage.completion_tokens).toBe(50);

      const s = await simState(sim.url);
      expect(s.instant).toBe(true);
      expect(s.completed).toBe(3);
      expect(s.running).toBe(0);
    } finally {
      await sim.close();
    }
  });
});

describe("close", () => {
  it("ends open streams and stalled requests, and leaves no socket or timer behind", async () => {
    const handles = () =>
      process
        .getActiveResourcesInfo()
        .filter((r) => ["TCPServerWrap", "TCPSocketWrap", "Timeout", "Immediate"].includes(r));
    const timersBefore = handles().filter((h) => h === "Timeout").length;
    const sim = await startSim({ profile: "l4", model: "llama-3.2-1b", timeScale: 1 });
    const res = await postJson(
      `${sim.url}/v1/chat/completions`,
      chat("go", { max_tokens: 100_000, ignore_eos: true, stream: true }),
    );
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await postJson(`${sim.url}/sim/control`, { stall: true });
    const stalled = postJson(`${sim.url}/v1/chat/completions`, chat("stuck")).catch((err: unknown) => err);
    await sim.close();
    const drain = async (): Promise<void> => {
      while (!(await reader.read()).done) {
        // buffered chunks come first, then the reset
      }
    };
    await expect(drain()).rejects.toThrow();
    expect(await stalled).toBeInstanceOf(Error);
    await expect(fetch(`${sim.url}/health`)).rejects.toThrow();
    // Sockets finish closing within a few ticks; a leaked one would keep this from ever holding.
    await waitFor(async () => !handles().some((h) => h.startsWith("TCP")), 2000);
    expect(handles().filter((h) => h === "Immediate")).toEqual([]);
    expect(handles().filter((h) => h === "Timeout").length).toBeLessThanOrEqual(timersBefore);
  });

  it("refuses bad options", async () => {
    await expect(startSim({ profile: "h100", model: "llama-3.2-1b", timeScale: 0 })).rejects.toThrow(
      /timeScale/,
    );
    await expect(startSim({ profile: "h100", model: "llama-3.2-1b", maxNumSeqs: 1.5 })).rejects.toThrow(
      /maxNumSeqs/,
    );
    await expect(startSim({ profile: "nope", model: "llama-3.2-1b" })).rejects.toThrow(/valid: /);
  });
});
