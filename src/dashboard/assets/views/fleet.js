// The Fleet view: throughput and latency figures, queue per user, selections by reason, strategy.
import { api } from "../api.js";
import { confirmDialog, fmtMs, fmtNum, h, setChildren, sparkline, toast } from "../dom.js";
import { live, subscribe } from "../live.js";

function stat(key, label, value, series, opts) {
  return h(
    "figure.stat",
    { "data-stat": key },
    h("figcaption", { text: label }),
    h("strong", { text: value }),
    series ? sparkline(series, { label, width: 180, height: 32, ...opts }) : null,
  );
}

/** Renders the Fleet view into root; returns its cleanup. */
export function fleetView(root) {
  const stats = h("div.stats");
  const current = h("strong", { id: "current-strategy" });
  const select = h("select", { id: "strategy-select", "aria-label": "Load-balancing strategy" });
  const apply = h("button.btn.primary", { type: "button", id: "strategy-apply", text: "Switch strategy" });
  const queue = h("div");
  const selections = h("div");

  apply.addEventListener("click", async () => {
    const name = select.value;
    if (!name || name === live.strategy) return toast(`${name} is already the strategy`);
    const ok = await confirmDialog(
      "Switch the load-balancing strategy?",
      `Every new request will be routed with "${name}" instead of "${live.strategy}". Requests already running are not moved.`,
      `Switch to ${name}`,
    );
    if (!ok) return;
    try {
      const r = await api("PUT", "/api/v1/loadbalancer/strategy", { strategy: name });
      live.strategy = r.strategy;
      toast(`Strategy switched to ${r.strategy}`);
      render();
    } catch (err) {
      toast(`Switch failed: ${err.message}`, "error");
    }
  });

  setChildren(
    root,
    h("div.view-head", {}, h("h1", { text: "Fleet" })),
    stats,
    h(
      "section.card",
      { "aria-labelledby": "h-strategy" },
      h("h2", { id: "h-strategy", text: "Load-balancing strategy" }),
      h("div.toolbar", {}, h("span", {}, "Current: ", current), select, apply),
    ),
    h(
      "div.grid2",
      {},
      h("section.card", { "aria-labelledby": "h-queue" }, h("h2", { id: "h-queue", text: "Queue depth per user" }), queue),
      h("section.card", { "aria-labelledby": "h-sel" }, h("h2", { id: "h-sel", text: "Node selections by reason" }), selections),
    ),
  );

  let shownStrategies = "";
  function render() {
    const f = live.fleet;
    const hist = live.fleetHistory;
    const online = f?.nodes_by_state?.online ?? [...live.nodes.values()].filter((n) => n.state === "online").length;
    setChildren(
      stats,
      stat("rps", "Requests / s", f ? fmtNum(f.requests_per_s, 2) : "—", hist.map((p) => p.requests_per_s)),
      stat("ttft_p50", "TTFT p50", fmtMs(f?.ttft_p50_ms ?? null), hist.map((p) => p.ttft_p50_ms)),
      stat("ttft_p99", "TTFT p99", fmtMs(f?.ttft_p99_ms ?? null), hist.map((p) => p.ttft_p99_ms)),
      stat("tps", "Tokens / s (generated)", f ? fmtNum(f.completion_tokens_per_s) : "—", hist.map((p) => p.completion_tokens_per_s)),
      stat("queue", "Queued requests", f ? String(f.queue.total) : "—", hist.map((p) => p.queue.total)),
      stat("online", "Nodes online", `${online} / ${live.nodes.size}`),
    );
    current.textContent = live.strategy ?? "—";
    const names = live.strategies.join(",");
    if (names !== shownStrategies || select.value === "") {
      shownStrategies = names;
      setChildren(select, live.strategies.map((s) => h("option", { value: s, text: s, selected: s === live.strategy })));
    }
    const users = f?.queue.users ?? [];
    setChildren(
      queue,
      users.length
        ? h(
            "table",
            { "aria-label": "Queue depth per user" },
            h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "User" }), h("th.num", { scope: "col", text: "Waiting" }), h("th.num", { scope: "col", text: "Oldest wait" }))),
            h("tbody", {}, users.map((u) => h("tr", {}, h("td", { text: u.username ?? u.user_id }), h("td.num", { text: String(u.depth) }), h("td.num", { text: fmtMs(u.oldest_wait_ms) })))),
          )
        : h("p.muted", { text: "Nobody is waiting: every request found a free slot." }),
    );
    const sel = Object.entries(f?.selections_by_reason ?? {}).sort((a, b) => b[1] - a[1]);
    const top = Math.max(1, ...sel.map(([, c]) => c));
    setChildren(
      selections,
      sel.length
        ? h(
            "ul.hbars",
            { "aria-label": "Selections by reason" },
            sel.map(([reason, count]) =>
              h(
                "li",
                { "data-reason": reason },
                h("span.hbar-label", { text: reason }),
                h("span.hbar-track", {}, h("span.hbar-fill", { style: { width: `${(count / top) * 100}%` } })),
                h("span.hbar-value", { text: fmtNum(count) }),
              ),
            ),
          )
        : h("p.muted", { text: "No request has been routed yet." }),
    );
  }

  const unsub = subscribe((kind) => {
    if (kind === "fleet" || kind === "snapshot") render();
  });
  render();
  return unsub;
}
