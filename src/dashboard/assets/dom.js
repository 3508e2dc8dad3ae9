// Small DOM helpers: element builder, bars, sparklines, confirm dialog, toasts, formatting.
// Everything is built with createElement/textContent, never innerHTML, so data cannot inject markup.

const SVG_NS = "http://www.w3.org/2000/svg";

/** h("tag.class", {attrs, on:{event}}, ...children) */
export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === "text") el.textContent = v;
    else if (k === "style") Object.assign(el.style, v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces an element's children. */
export function setChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** "ok" | "warn" | "high" for a percentage. */
export function level(pct) {
  if (pct === null || pct === undefined) return "unknown";
  return pct < 60 ? "ok" : pct < 85 ? "warn" : "high";
}

/** A labelled horizontal meter (0..100). */
export function bar(pct, label, text) {
  const known = pct !== null && pct !== undefined && Number.isFinite(pct);
  const v = known ? Math.max(0, Math.min(100, pct)) : 0;
  return h(
    "div.meter",
    {
      role: "meter",
      "aria-label": label,
      "aria-valuemin": "0",
      "aria-valuemax": "100",
      "aria-valuenow": known ? String(Math.round(v)) : undefined,
      "aria-valuetext": known ? (text ?? `${fmtPct(v)}`) : "unknown",
      title: `${label}: ${known ? (text ?? fmtPct(v)) : "unknown"}`,
    },
    h("span.meter-track", {}, h(`span.meter-fill.${level(known ? v : null)}`, { style: { width: `${v}%` } })),
    h("span.meter-text", { text: known ? (text ?? fmtPct(v)) : "—" }),
  );
}

/** An inline SVG sparkline of numbers (nulls leave gaps). */
export function sparkline(values, { width = 160, height = 36, label = "trend", max } = {}) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.setAttribute("class", "spark");
  svg.setAttribute("role", "img");
  const known = values.filter((v) => v !== null && v !== undefined && Number.isFinite(v));
  const last = known.length ? known[known.length - 1] : null;
  svg.setAttribute("aria-label", `${label}: ${known.length} points, latest ${last === null ? "unknown" : fmtNum(last)}`);
  if (known.length < 1) return svg;
  const top = Math.max(max ?? 0, ...known, 1e-9);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  let d = "";
  let pen = false;
  values.forEach((v, i) => {
    if (v === null || v === undefined || !Number.isFinite(v)) {
      pen = false;
      return;
    }
    const x = (i * step).toFixed(1);
    const y = (height - 2 - (v / top) * (height - 4)).toFixed(1);
    d += `${pen ? "L" : "M"}${x} ${y} `;
    pen = true;
  });
  const area = document.createElementNS(SVG_NS, "path");
  area.setAttribute("d", `${d}L${((values.length - 1) * step).toFixed(1)} ${height} L0 ${height} Z`);
  area.setAttribute("class", "spark-area");
  const line = document.createElementNS(SVG_NS, "path");
  line.setAttribute("d", d);
  line.setAttribute("class", "spark-line");
  if (known.length === values.length) svg.append(area);
  svg.append(line);
  return svg;
}

/** Asks for confirmation in the page's modal <dialog>; resolves true on Confirm. */
export function confirmDialog(title, body, okLabel = "Confirm") {
  const dlg = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-body").textContent = body;
  document.getElementById("confirm-ok").textContent = okLabel;
  const opener = document.activeElement;
  return new Promise((resolve) => {
    dlg.returnValue = "cancel";
    dlg.addEventListener(
      "close",
      () => {
        if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
        resolve(dlg.returnValue === "ok");
      },
      { once: true },
    );
    dlg.showModal();
    // Cancel is focused first: Enter on a destructive dialog should not destroy anything.
    document.getElementById("confirm-cancel").focus();
  });
}

let toastTimer;
/** Shows a short message in the polite live region. */
export function toast(msg, kind = "info") {
  const el = document.getElementById("toast");
  el.textContent = msg;
  el.dataset.kind = kind;
  el.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove("show"), 4000);
}

/** 12.3% (or — for unknown). */
export function fmtPct(v) {
  return v === null || v === undefined ? "—" : `${v.toFixed(v >= 10 || v === 0 ? 0 : 1)}%`;
}

/** Compact number. */
export function fmtNum(v, digits = 1) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(digits)}M`;
  if (Math.abs(v) >= 1e4) return `${(v / 1e3).toFixed(digits)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(digits);
}

/** 840 ms / 2.4 s. */
export function fmtMs(v) {
  if (v === null || v === undefined) return "—";
  return v >= 1000 ? `${(v / 1000).toFixed(v >= 10_000 ? 0 : 1)} s` : `${Math.round(v)} ms`;
}

/** MiB → "23.5 GiB". */
export function fmtMib(v) {
  if (v === null || v === undefined) return "—";
  return v >= 1024 ? `${(v / 1024).toFixed(1)} GiB` : `${v} MiB`;
}

/** "3 s ago" from an ISO time. */
export function ago(iso) {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** A state badge. */
export function stateBadge(state) {
  return h(`span.badge.state-${state}`, { text: state });
}
