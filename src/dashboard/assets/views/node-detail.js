// One node: live figures, per-GPU table, sparklines of its history and its recent routing reasons.
import { api } from "../api.js";
import { fmtMib, fmtMs, fmtNum, fmtPct, h, setChildren, sparkline, stateBadge } from "../dom.js";
import { live, pointOf, subscribe } from "../live.js";
import { activeText, figures, labelChips, modelChips } from "./node-cells.js";
import { drainButton } from "./nodes.js";

const SERIES = [
  { key: "gpu", label: "GPU usage", fmt: fmtPct, max: 100 },
  { key: "vram", label: "VRAM usage", fmt: fmtPct, max: 100 },
  { key: "kv", label: "KV-cache usage", fmt: fmtPct, max: 100 },
  { key: "active", label: "Active requests", fmt: (v) => fmtNum(v) },
  { key: "waiting", label: "Waiting in engine", fmt: (v) => fmtNum(v) },
  { key: "avg", label: "Avg response time", fmt: fmtMs },
];

// The server keeps the reasons; refetching on every heartbeat would be polling by another name.
const REASONS_REFRESH_MS = 2000;

function fact(label, value) {
  return [h("dt", { text: label }), h("dd", {}, value ?? "—")];
}

/** Renders a node's page into root; returns its cleanup. */
export function nodeDetailView(root, id) {
  const title = h("h1", { text: id });
  const actions = h("div.head-actions");
  const head = h("div.view-head", {}, title, actions);
  let drainBtn = null;
  const facts = h("dl.facts");
  const gpus = h("div.table-wrap");
  const sparks = h("div.sparks");
  const reasons = h("div");
  let detail = null;
  let lastFetch = 0;
  let lastTotal = -1;

  setChildren(
    root,
    h("p.crumbs", {}, h("a", { href: "#/nodes", text: "← All nodes" })),
    head,
    h("section.card", { "aria-labelledby": "h-history" }, h("h2", { id: "h-history", text: "History" }), sparks),
    h("div.grid2", {}, h("section.card", { "aria-labelledby": "h-facts" }, h("h2", { id: "h-facts", text: "Node" }), facts), h("section.card", { "aria-labelledby": "h-reasons" }, h("h2", { id: "h-reasons", text: "Recent routing reasons" }), reasons)),
    h("section.card", { "aria-labelledby": "h-gpus" }, h("h2", { id: "h-gpus", text: "GPUs" }), gpus),
  );

  async function fetchDetail() {
    lastFetch = Date.now();
    try {
      detail = await api("GET", `/v0/nodes/${encodeURIComponent(id)}`);
      // Seed the live history with the server's last heartbeats so the sparklines start full.
      const h0 = live.history.get(id) ?? [];
      if (h0.length < detail.history.length) {
        const seeded = detail.history.map((p) => ({
          t: Date.parse(p.at),
          gpu: p.gpu_usage,
          vram: p.vram_usage,
          kv: p.kv_cache_usage === null ? null : p.kv_cache_usage * 100,
          active: p.active_requests,
          running: p.running_requests,
          waiting: p.waiting_requests,
          avg: null,
        }));
        live.history.set(id, [...seeded, ...h0.filter((p) => p.t > (seeded.at(-1)?.t ?? 0))]);
      }
      render();
    } catch (err) {
      setChildren(head, h("h1", { text: id }), h("p.error", { role: "alert", text: err.status === 404 ? "No such node." : err.message }));
    }
  }

  function render() {
    const n = live.nodes.get(id) ?? detail;
    if (!n) return;
    setChildren(title, n.id, " ", stateBadge(n.state));
    // Built once: rebuilding it on every update would take the keyboard focus away.
    if (!drainBtn) actions.append((drainBtn = drainButton(n)));
    drainBtn.disabled = n.state !== "online";
    const e = n.engine;
    setChildren(
      facts,
      fact("Hostname", n.hostname),
      fact("Engine", [e.kind, e.version].filter(Boolean).join(" ") || null),
      fact("Engine health", e.healthy === null ? null : e.healthy ? "healthy" : "unhealthy"),
      fact("Active requests", activeText(n)),
      fact("Engine running / waiting", `${e.running_requests ?? "—"} / ${e.waiting_requests ?? "—"}`),
      fact("Total requests", `${figures.total(n)} (${n.completed} completed, ${n.failed} failed)`),
      fact("Avg response time", figures.avg(n)),
      fact("Prefix-cache hit rate", e.prefix_cache_hit_rate === null ? null : fmtPct(e.prefix_cache_hit_rate * 100)),
      fact("Models", modelChips(n)),
      fact("Labels", labelChips(n)),
      fact("Agent", n.agent_version),
      fact("GPU source", [n.gpu_source, n.gpu_note].filter(Boolean).join(" — ") || null),
      fact("Last seen", figures.lastSeen(n)),
    );
    const hist = live.history.get(id) ?? [pointOf(n)];
    setChildren(
      sparks,
      SERIES.map((s) => {
        const values = hist.map((p) => p[s.key]);
        const last = values.at(-1);
        return h("figure.spark-card", { "data-series": s.key }, h("figcaption", {}, h("span", { text: s.label }), h("strong", { text: s.fmt(last ?? null) })), sparkline(values, { label: s.label, width: 220, height: 44, max: s.max }));
      }),
    );
    setChildren(
      gpus,
      n.gpus.length
        ? h(
            "table",
            { "aria-label": `GPUs of ${n.id}` },
            h("thead", {}, h("tr", {}, ["#", "Name", "Utilisation", "VRAM", "Temperature", "Power", "Compute capability", "Driver"].map((t) => h("th", { scope: "col", text: t })))),
            h(
              "tbody",
              {},
              n.gpus.map((g) =>
                h(
                  "tr",
                  {},
                  h("td", { text: String(g.index) }),
                  h("td", { text: g.name ?? "—" }),
                  h("td", { text: fmtPct(g.utilization_percent) }),
                  h("td", { text: `${fmtMib(g.vram_used_mib)} / ${fmtMib(g.vram_total_mib)}` }),
                  h("td", { text: g.temperature_celsius === null ? "—" : `${g.temperature_celsius} °C` }),
                  h("td", { text: g.power_watts === null ? "—" : `${Math.round(g.power_watts)} W` }),
                  h("td", { text: g.compute_capability ?? "—" }),
                  h("td", { text: g.driver_version ?? "—" }),
                ),
              ),
            ),
          )
        : h("p.muted", { text: "This node reports no GPUs." }),
    );
    const rs = detail?.recent_reasons ?? [];
    const counts = new Map();
    for (const r of rs) counts.set(r, (counts.get(r) ?? 0) + 1);
    setChildren(
      reasons,
      rs.length
        ? [
            h("div.chips", {}, [...counts].map(([r, c]) => h("span.chip", { text: `${r} × ${c}` }))),
            h("ol.reasons", { "aria-label": "Latest first" }, [...rs].reverse().map((r) => h("li", { text: r }))),
          ]
        : h("p.muted", { text: "No request has been routed here yet." }),
    );
  }

  const unsub = subscribe((kind, ids) => {
    if (kind === "nodes" && !ids.includes(id)) return;
    const n = live.nodes.get(id);
    if (n && n.total_requests !== lastTotal && Date.now() - lastFetch > REASONS_REFRESH_MS) {
      lastTotal = n.total_requests;
      void fetchDetail();
    } else render();
  });
  const timer = setInterval(render, 1000);
  void fetchDetail();
  return () => {
    unsub();
    clearInterval(timer);
  };
}
