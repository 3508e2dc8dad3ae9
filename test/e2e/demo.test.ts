import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { afterAll, describe, expect, it } from "vitest";
import { spawnLlmlb } from "../../src/fleet/launcher.js";

/** PIDs of every descendant of a process (via /proc), to prove Ctrl-C leaves nothing behind. */
function descendants(pid: number): number[] {
  const out = execFileSync("ps", ["-e", "-o", "pid=,ppid="], { encoding: "utf8" });
  const children = new Map<number, number[]>();
  for (const line of out.trim().split("\n")) {
    const [p, pp] = line.trim().split(/\s+/).map(Number);
    if (p === undefined || pp === undefined) continue;
    children.set(pp, [...(children.get(pp) ?? []), p]);
  }
  const all: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      all.push(c);
      walk(c);
    }
  };
  walk(pid);
  return all;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("llmlb demo (what `npm start` runs)", () => {
  const demo = spawnLlmlb(
    ["demo", "--port", "0", "--host", "127.0.0.1", "--time-scale", "20"],
    { LLMLB_DB: ":memory:", LLMLB_LOG_LEVEL: "warn" },
    "pipe",
  );
  demo.stderr?.resume();
  let output = "";
  demo.stdout?.on("data", (d: Buffer) => {
    output += d.toString();
  });

  afterAll(async () => {
    if (demo.exitCode === null) {
      demo.kill("SIGKILL");
      await once(demo, "exit");
    }
  });

  it("starts a heterogeneous fleet, prints a curl line that works, and Ctrl-C stops every process", async () => {
    const deadline = Date.now() + 60_000;
    while (!output.includes("Ctrl-C stops")) {
      if (Date.now() > deadline || demo.exitCode !== null) throw new Error(`demo did not start: ${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const url = /running on (http:\/\/\S+)/.exec(output)?.[1];
    const key = /API key:\s+(\S+)/.exec(output)?.[1];
    expect(url).toBeTruthy();
    expect(key).toMatch(/^sk-/);
    // The printed curl line, run as printed.
    const curlLines = output
      .split("\n")
      .filter((l) => l.trim().startsWith("curl") || l.trim().startsWith("-H") || l.trim().startsWith("-d"));
    const curl = curlLines.map((l) => l.trim().replace(/\\$/, "")).join(" ");
    expect(curl).toContain("/v1/chat/completions");
    const body = execFileSync("bash", ["-c", curl], { encoding: "utf8" });
    const j = JSON.parse(body) as { choices: { message: { content: string } }[] };
    expect(j.choices[0]?.message.content.length).toBeGreaterThan(0);

    const r = await fetch(`${url}/readyz`);
    expect(((await r.json()) as { nodes_online: number }).nodes_online).toBe(4);

    const children = descendants(demo.pid ?? 0);
    expect(children.length).toBeGreaterThanOrEqual(8); // 4 sims + 4 agents
    demo.kill("SIGINT");
    const [code] = await once(demo, "exit");
    expect(code).toBe(0);
    const deadlineGone = Date.now() + 10_000;
    while (children.some(alive) && Date.now() < deadlineGone)
      await new Promise((res) => setTimeout(res, 100));
    expect(children.filter(alive)).toEqual([]);
  });
});
