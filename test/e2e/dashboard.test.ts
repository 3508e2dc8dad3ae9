import { copyFile, mkdir } from "node:fs/promises";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasChromium, launchBrowser } from "../helpers/browser.js";
import { type Cluster, startCluster } from "../helpers/cluster.js";

const NODES = [
  {
    id: "node-rtx4090",
    profile: "rtx4090",
    model: "llama-3.1-8b",
    costPerHour: 0.35,
    seed: 1,
    region: "eu-west",
  },
  {
    id: "node-a100",
    profile: "a100-80g",
    model: "llama-3.1-8b",
    costPerHour: 1.29,
    seed: 3,
    region: "us-east",
  },
  { id: "node-rtx3090", profile: "rtx3090", model: "llama-3.1-8b", costPerHour: 0.22, seed: 2, tier: "spot" },
];
const ARTIFACTS = "test-artifacts";

// Never skipped: without a browser this test fails and says how to get one (.ci/run installs it).
if (!hasChromium()) throw new Error("dashboard e2e needs /usr/bin/chromium: apt-get install -y chromium");

describe("dashboard in a real browser against a real cluster", () => {
  let cluster: Cluster;
  let browser: { context: BrowserContext; close(): Promise<void> };
  let page: Page;

  const admin = (path: string, init: RequestInit = {}) =>
    fetch(`${cluster.url}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${cluster.apiKey}`,
        "content-type": "application/json",
        ...init.headers,
      },
    });
  const shot = (name: string) =>
    page.screenshot({ path: `${ARTIFACTS}/dashboard-${name}.png`, fullPage: true });
  const cell = (id: string, col: string) => page.locator(`tr[data-node-id="${id}"] td[data-col="${col}"]`);
  const confirm = async () => {
    await page.locator("dialog#confirm[open]").waitFor();
    await page.click("#confirm-ok");
  };

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    await mkdir("docs", { recursive: true });
    cluster = await startCluster({
      nodes: NODES,
      // Slow enough that requests are visibly in flight; heartbeats at 1 s so a busy CI machine
      // (a browser beside real processes on two cores) does not miss three in a row.
      timeScale: 5,
      heartbeatSecs: 1,
      flags: { adminUser: "admin", adminPassword: "test" },
    });
    browser = await launchBrowser();
    page = await browser.context.newPage();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  it("refuses a wrong password with a visible error", async () => {
    await page.goto(cluster.url);
    await page.fill("#username", "admin");
    await page.fill("#password", "wrong-password");
    await page.click("button[type=submit]");
    await expect
      .poll(() => page.locator("#login-error").textContent())
      .toMatch(/invalid username or password/i);
    expect(await page.locator("#nav").isVisible()).toBe(false);
  });

  it("logs in and shows every node online", async () => {
    await page.fill("#username", "admin");
    await page.fill("#password", "test");
    await page.click("button[type=submit]");
    await page.locator("#nav").waitFor();
    for (const n of NODES) await expect.poll(() => cell(n.id, "state").textContent()).toBe("online");
    await expect.poll(() => page.locator("#conn").textContent()).toBe("Live");
  });

  it("shows figures change under load, live", async () => {
    const totals = async () => {
      let sum = 0;
      for (const n of NODES) sum += Number((await cell(n.id, "total").textContent())?.replace(/,/g, ""));
      return sum;
    };
    expect(await totals()).toBe(0);
    // Settled up front, so a failed request fails this test instead of surfacing as unhandled.
    const load = Array.from({ length: 24 }, (_, i) =>
      cluster.openai.chat.completions
        .create({
          model: "llama-3.1-8b",
          messages: [{ role: "user", content: `dashboard load ${i}` }],
          max_tokens: 200,
        })
        .then(
          () => "ok",
          (err: unknown) => String(err),
        ),
    );
    // Active requests climb while the batch runs; the page learns it from the push stream alone.
    await expect
      .poll(async () => {
        let active = 0;
        for (const n of NODES) active += Number((await cell(n.id, "active").textContent())?.split("/")[0]);
        return active;
      })
      .toBeGreaterThan(0);
    await shot("nodes-under-load");
    expect(await Promise.all(load)).toEqual(load.map(() => "ok"));
    await expect.poll(totals, { timeout: 10_000 }).toBe(24);
    await shot("nodes");
    await page.click("#theme-toggle");
    expect(await page.getAttribute("html", "data-theme")).toBe("dark");
    await shot("nodes-dark");
    await page.click("#theme-toggle");
    // The README's screenshot is refreshed only on request, so a test run leaves the checkout clean.
    if (process.env.LLMLB_UPDATE_DOCS === "1")
      await copyFile(`${ARTIFACTS}/dashboard-nodes-under-load.png`, "docs/dashboard.png");
  });

  it("shows a node's history and routing reasons", async () => {
    // The node that served the most of the load: it has routing reasons to show.
    const busiest = [...cluster.cp.nodes.all()].sort((a, b) => b.totalRequests - a.totalRequests)[0];
    await page.click(`a[href="#/nodes/${busiest?.id}"]`);
    await page.locator('figure[data-series="gpu"] svg path.spark-line').waitFor();
    await page.locator("ol.reasons li").first().waitFor();
    await shot("node-detail");
  });

  it("switches the strategy after a confirmation", async () => {
    await page.click('a[data-nav="fleet"]');
    await expect.poll(() => page.locator('[data-stat="rps"] strong').textContent()).not.toBe("—");
    const before = ((await (await admin("/api/v1/loadbalancer/strategy")).json()) as { strategy: string })
      .strategy;
    const target = before === "least_connections" ? "round_robin" : "least_connections";
    await page.selectOption("#strategy-select", target);
    await page.click("#strategy-apply");
    await confirm();
    await expect.poll(() => page.locator("#current-strategy").textContent()).toBe(target);
    const after = (await (await admin("/api/v1/loadbalancer/strategy")).json()) as { strategy: string };
    expect(after.strategy).toBe(target);
    await page.locator("ul.hbars li").first().waitFor();
    await shot("fleet");
  });

  it("drains a node from the table", async () => {
    const id = NODES[2]?.id ?? "";
    await page.click('a[data-nav="nodes"]');
    await page.click(`tr[data-node-id="${id}"] button[data-action="drain"]`);
    await confirm();
    await expect.poll(() => cell(id, "state").textContent()).toBe("draining");
    const j = (await (await admin(`/v0/nodes/${id}`)).json()) as { state: string };
    expect(j.state).toBe("draining");
    expect(cluster.cp.nodes.get(id)?.state).toBe("draining");
  });

  it("creates an API key, shows it once, and revokes it", async () => {
    await page.click('a[data-nav="keys"]');
    await page.fill("#api-name", "e2e-dashboard-key");
    await page.click('section[data-kind="api"] button[type=submit]');
    const key = (await page.locator("#api-secret").textContent()) ?? "";
    expect(key).toMatch(/^sk-/);
    const models = () => fetch(`${cluster.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    expect((await models()).status).toBe(200);
    await shot("keys");
    const row = page.locator('section[data-kind="api"] tr[data-name="e2e-dashboard-key"]');
    await row.locator('button[data-action="revoke"]').click();
    await confirm();
    await expect.poll(() => row.getAttribute("data-status")).toBe("revoked");
    expect((await models()).status).toBe(401);
  });

  it("logs out back to the login form", async () => {
    await page.click("#logout");
    await page.locator("#username").waitFor();
    expect(await page.evaluate("sessionStorage.length")).toBe(0);
  });
});
