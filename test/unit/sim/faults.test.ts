import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RunningSim } from "../../../src/sim/index.js";
import { startSim } from "../../../src/sim/index.js";
import { chat, postJson, simState, waitFor } from "./helpers.js";

let sim: RunningSim;
beforeEach(async () => {
  sim = await startSim({ profile: "rtx3090", model: "llama-3.2-1b", timeScale: 500 });
});
afterEach(async () => {
  await sim.close();
});

const control = (body: unknown) => postJson(`${sim.url}/sim/control`, body);

describe("fault injection", () => {
  it("makes /health answer 503 while unhealthy", async () => {
    expect((await control({ healthy: false })).status).toBe(200);
    expect((await fetch(`${sim.url}/health`)).status).toBe(503);
    expect((await simState(sim.url)).healthy).toBe(false);
    await control({ healthy: true });
    expect((await fetch(`${sim.url}/health`)).status).toBe(200);
  });

  it("fails the next N inference requests with the chosen status, before any token", async () => {
    const ack = (await (await control({ fail_next: 2, fail_status: 503 })).json()) as Record<string, unknown>;
    expect(ack).toMatchObject({ fail_next: 2, fail_status: 503 });
    for (const stream of [true, false]) {
      const res = await postJson(`${sim.url}/v1/chat/completions`, chat("hi", { stream }));
      expect(res.status).toBe(503);
      expect(res.headers.get("content-type")).toContain("application/json");
      const body = (await res.json()) as { error: Record<string, unknown> };
      expect(body.error.code).toBe(503);
      expect(typeof body.error.message).toBe("string");
    }
    const ok = await postJson(`${sim.url}/v1/chat/completions`, chat("hi", { max_tokens: 3 }));
    expect(ok.status).toBe(200);
    const s = await simState(sim.url);
    expect((s as unknown as { failed: number }).failed).toBe(2);
    expect(s.completed).toBe(1);
  });

  it("holds new requests without a byte while stalled and lets them go when unstalled", async () => {
    await control({ stall: true });
    let settled = false;
    const req = postJson(
      `${sim.url}/v1/chat/completions`,
      chat("wait for me", { max_tokens: 3, stream: true }),
    ).then((r) => {
      settled = true;
      return r;
    });
    await waitFor(async () => (await simState(sim.url)).stalled === 1);
    const s = await simState(sim.url);
    expect(s.running + s.waiting).toBe(0);
    expect(settled).toBe(false); // no headers yet: a stalled engine sends nothing
    await control({ stall: false });
    const res = await req;
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("data: [DONE]");
    expect((await simState(sim.url)).stalled).toBe(0);
  });

  it("counts a client that gives up while stalled as cancelled", async () => {
    await control({ stall: true });
    const ac = new AbortController();
    const req = postJson(`${sim.url}/v1/chat/completions`, chat("deadline"), ac.signal);
    await waitFor(async () => (await simState(sim.url)).stalled === 1);
    ac.abort();
    await expect(req).rejects.toThrow();
    await waitFor(async () => (await simState(sim.url)).stalled === 0);
    expect((await simState(sim.url)).cancelled).toBe(1);
  });

  it("rejects a malformed control body", async () => {
    expect((await control({ fail_next: -1 })).status).toBe(400);
    expect((await control({ healthy: "no" })).status).toBe(400);
    expect((await control({ typo: true })).status).toBe(400);
    expect((await control("[")).status).toBe(400);
  });
});
