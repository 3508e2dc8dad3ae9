import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { LLMLB_BIN } from "../../src/fleet/launcher.js";

const llmlb = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [LLMLB_BIN, ...args], {
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 30_000,
  });

describe("a bad config value stops startup with a message naming the key", () => {
  it.each([
    [["serve", "--port", "abc"], {}, /configuration error: port \(from --port\): expected an integer/],
    [
      ["serve"],
      { LLMLB_VRAM_THRESHOLD: "200" },
      /configuration error: vramThreshold \(from LLMLB_VRAM_THRESHOLD\): must be ≤ 100/,
    ],
    [
      ["agent", "--engine-url", "http://127.0.0.1:1"],
      { LLMLB_SERVER: "", LLMLB_NODE_TOKEN: "" },
      /configuration error: server is required/,
    ],
    [["sim", "--profile", "gtx480"], {}, /gtx480/],
  ])("llmlb %j", (args, env, message) => {
    const r = llmlb(args, env as Record<string, string>);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });
});
