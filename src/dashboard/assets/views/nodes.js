// The Nodes view: a live, sortable, filterable, paginated table (fast at 1,000 nodes: only one page
// of rows exists in the DOM, and rows are patched in place rather than rebuilt).
import { api } from "../api.js";
import { confirmDialog, h, setChildren, stateBadge, toast } from "../dom.js";
import { live, subscribe } from "../live.js";
import { activeText, figures, gpuBars, kvBar, labelChips, modelChips, vramBars } from "./node-cells.js";

const STATE_ORDER = { online: 0, draining: 1, connecting: 2, offline: 3 };
const COLUMNS = [
  { key: "id", label: "Node", sort: (n) => n.id },
  { key: "state", label: "State", sort: (n) => STATE_ORDER[n.state] ?? 9 },
  { key: "gpu", label: "GPU Usage", sort: (n) => n.gpu_usage ?? -1 },
  { key: "vram", label: "VRAM Usage", sort: (n) => n.vram_usage ?? -1 },
  { key: "kv", label: "KV cache", sort: (n) => n.kv_cache_usage ?? -1 },
  { key: "active", label: "Active Requests", sort: (n) => n.active_requests, num: true },
  { key: "total", label: "Total Requests", sort: (n) => n.total_requests, num: true },
  { key: "avg", label: "Avg Response Time", sort: (n) => n.avg_response_time_ms ?? Number.POSITIVE_INFINITY, num: true },
  { key: "models", label: "Models" },
  { key: "labels", label: "Labels", sort: (n) => n.labels.cost_per_hour_usd ?? Number.POSITIVE_INFINITY },
  { key: "last_seen", label: "Last seen", sort: (n) => -Date.parse(n.last_seen) },
  { key: "actions", label: "Actions", hidden: true },
];

// Kept across visits, so returning from a node's page restores the operator's view.
const view = { q: "", state: "all", sortKey: "id", sortDir: 1, page: 0, pageSize: 50 };

function matches(n, q) {
  if (!q) return true;
  const hay = [n.id, n.hostname, n.engine.kind, n.labels.region, n.labels.tier, ...n.models, ...n.gpus.map((g) => g.name)]
    .filter(Boolean)
    .join(" ")
    .toLowerCase();
  return q
    .toLowerCase()
    .split(/\s+/)
    .every((w) => hay.includes(w));
}

async function drain(n) {
  const ok = await confirmDialog(
    `Drain ${n.id}?`,
    "The node finishes the requests it is running and takes no new ones. It stays connected, drained, until its agent restarts.",
    "Drain node",
  );
  if (!ok) return;
  try {
    await api("POST", `/v0/nodes/${encodeURIComponent(n.id)}/drain`, { reason: "drained from the dashboard" });
    toast(`${n.id} is draining`);
  } catch (err) {
    toast(`Drain failed: ${err.message}`, "error");
  }
}

/** A drain button for a node (shared with the detail page). */
export function drainButton(n) {
  return h("button.btn.small.danger", {
    type: "button",
    "data-action": "drain",
    "aria-label": `Drain ${n.id}`,
    disabled: n.state !== "online",
    text: "Drain",
    on: { click: () => drain(live.nodes.get(n.id) ?? n) },
  });
}

function makeRow(n) {
  const cells = {};
  const tr = h("tr", { "data-node-id": n.id });
  for (const c of COLUMNS) {
    cells[c.key] = h(`td${c.num ? ".num" : ""}`, { "data-col": c.key });
    tr.append(cells[c.key]);
  }
  const link = h("a", { href: `#/nodes/${encodeURIComponent(n.id)}` });
  const host = h("div.sub");
  cells.id.append(link, host);
  const btn = drainButton(n);
  cells.actions.append(btn);
  return { tr, cells, link, host, btn, node: null, seen: "" };
}

function patchRow(row, n) {
  const c = row.cells;
  const seen = figures.lastSeen(n);
  if (row.node === n) {
    // Only the relative time moves between updates.
    if (row.seen !== seen) c.last_seen.textContent = row.seen = seen;
    return;
  }
  row.node = n;
  row.link.textContent = n.id;
  row.host.textContent = [n.hostname, n.engine.kind].filter(Boolean).join(" · ");
  setChildren(c.state, stateBadge(n.state));
  setChildren(c.gpu, gpuBars(n));
  setChildren(c.vram, vramBars(n));
  setChildren(c.kv, kvBar(n));
  c.active.textContent = activeText(n);
  c.total.textContent = figures.total(n);
  c.avg.textContent = figures.avg(n);
  setChildren(c.models, modelChips(n));
  setChildren(c.labels, labelChips(n));
  c.last_seen.textContent = row.seen = seen;
  row.btn.disabled = n.state !== "online";
}

/** Renders the Nodes view into root; returns its cleanup. */
export function nodesView(root) {
  const rows = new Map();
  const search = h("input", {
    type: "search",
    id: "node-filter",
    placeholder: "Filter by id, model, host, region…",
    "aria-label": "Filter nodes",
    value: view.q,
    on: { input: (e) => ((view.q = e.target.value), (view.page = 0), schedule()) },
  });
  const stateSel = h(
    "select",
    { id: "state-filter", "aria-label": "Filter by state", on: { change: (e) => ((view.state = e.target.value), (view.page = 0), schedule()) } },
    ["all", "online", "draining", "connecting", "offline"].map((s) => h("option", { value: s, text: s === "all" ? "All states" : s, selected: view.state === s })),
  );
  const sizeSel = h(
    "select",
    { "aria-label": "Rows per page", on: { change: (e) => ((view.pageSize = Number(e.target.value)), (view.page = 0), schedule()) } },
    [25, 50, 100, 250].map((s) => h("option", { value: String(s), text: `${s} / page`, selected: view.pageSize === s })),
  );
  const summary = h("div.summary", { "aria-live": "off" });
  const thead = h("thead");
  const headRow = h("tr");
  const sortButtons = {};
  for (const c of COLUMNS) {
    const th = h(`th${c.num ? ".num" : ""}`, { scope: "col", "data-col": c.key });
    if (c.hidden) th.append(h("span.sr-only", { text: c.label }));
    else if (c.sort) {
      const b = h("button.sort", {
        type: "button",
        text: c.label,
        on: {
          click: () => {
            view.sortDir = view.sortKey === c.key ? -view.sortDir : c.num ? -1 : 1;
            view.sortKey = c.key;
            schedule();
          },
        },
      });
      sortButtons[c.key] = { th, b };
      th.append(b);
    } else th.textContent = c.label;
    headRow.append(th);
  }
  thead.append(headRow);
  const tbody = h("tbody");
  const empty = h("p.empty", { hidden: true });
  const pageInfo = h("span", { "aria-live": "polite" });
  const prev = h("button.btn.small", { type: "button", text: "‹ Previous", "aria-label": "Previous page", on: { click: () => (view.page--, schedule()) } });
  const next = h("button.btn.small", { type: "button", text: "Next ›", "aria-label": "Next page", on: { click: () => (view.page++, schedule()) } });

  setChildren(
    root,
    h("div.view-head", {}, h("h1", { text: "Nodes" }), summary),
    h("div.toolbar", {}, search, stateSel, sizeSel),
    h("div.table-wrap", {}, h("table.nodes", { "aria-label": "Nodes" }, thead, tbody)),
    empty,
    h("div.pager", {}, prev, pageInfo, next),
  );

  function render() {
    const all = [...live.nodes.values()];
    const counts = { online: 0, draining: 0, offline: 0, connecting: 0 };
    let active = 0;
    for (const n of all) {
      counts[n.state] = (counts[n.state] ?? 0) + 1;
      active += n.active_requests;
    }
    setChildren(
      summary,
      h("span.pill", { text: `${all.length} nodes` }),
      h("span.pill.state-online", { text: `${counts.online} online` }),
      counts.draining ? h("span.pill.state-draining", { text: `${counts.draining} draining` }) : null,
      counts.offline ? h("span.pill.state-offline", { text: `${counts.offline} offline` }) : null,
      h("span.pill", { text: `${active} active requests` }),
    );
    const col = COLUMNS.find((c) => c.key === view.sortKey) ?? COLUMNS[0];
    const list = all.filter((n) => (view.state === "all" || n.state === view.state) && matches(n, view.q));
    list.sort((a, b) => {
      const x = col.sort(a);
      const y = col.sort(b);
      const d = typeof x === "string" ? x.localeCompare(y) : x - y;
      return d !== 0 ? d * view.sortDir : a.id.localeCompare(b.id);
    });
    for (const [key, { th, b }] of Object.entries(sortButtons)) {
      const on = key === view.sortKey;
      th.setAttribute("aria-sort", on ? (view.sortDir > 0 ? "ascending" : "descending") : "none");
      b.dataset.dir = on ? (view.sortDir > 0 ? "asc" : "desc") : "";
    }
    const pages = Math.max(1, Math.ceil(list.length / view.pageSize));
    view.page = Math.min(Math.max(0, view.page), pages - 1);
    const slice = list.slice(view.page * view.pageSize, (view.page + 1) * view.pageSize);
    pageInfo.textContent = `Page ${view.page + 1} of ${pages} · ${list.length} shown`;
    prev.disabled = view.page === 0;
    next.disabled = view.page >= pages - 1;
    empty.hidden = list.length > 0;
    empty.textContent = all.length ? "No node matches the filter." : live.status === "live" ? "No nodes have connected yet." : "Connecting…";

    const keep = new Set(slice.map((n) => n.id));
    for (const [id, row] of rows) {
      if (!keep.has(id)) {
        row.tr.remove();
        rows.delete(id);
      }
    }
    // Walk the wanted order and move only rows that are out of place, so a focused button in a
    // row that did not move keeps its focus.
    let cursor = tbody.firstElementChild;
    for (const n of slice) {
      let row = rows.get(n.id);
      if (!row) {
        row = makeRow(n);
        rows.set(n.id, row);
      }
      patchRow(row, n);
      if (row.tr !== cursor) tbody.insertBefore(row.tr, cursor);
      else cursor = cursor.nextElementSibling;
    }
  }

  let pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      render();
    });
  }
  const unsub = subscribe(schedule);
  const timer = setInterval(schedule, 1000);
  render();
  return () => {
    unsub();
    clearInterval(timer);
  };
}
