// Cell contents of the Nodes table, shared with the node detail page.
import { ago, bar, fmtMib, fmtMs, h } from "../dom.js";

/** Per-GPU utilisation bars (the node's mean when it reports no per-GPU figures). */
export function gpuBars(n) {
  const gpus = n.gpus.filter((g) => g.utilization_percent !== null);
  if (!gpus.length) return bar(n.gpu_usage, `${n.id} GPU usage`);
  return h(
    "div.stack",
    {},
    gpus.map((g) =>
      bar(g.utilization_percent, `${n.id} GPU ${g.index} usage`, `${gpus.length > 1 ? `${g.index}: ` : ""}${Math.round(g.utilization_percent)}%`),
    ),
  );
}

/** Per-GPU VRAM bars with used / total. */
export function vramBars(n) {
  const gpus = n.gpus.filter((g) => g.vram_used_mib !== null && g.vram_total_mib);
  if (!gpus.length) return bar(n.vram_usage, `${n.id} VRAM usage`);
  return h(
    "div.stack",
    {},
    gpus.map((g) =>
      bar(
        (g.vram_used_mib / g.vram_total_mib) * 100,
        `${n.id} GPU ${g.index} VRAM`,
        `${(g.vram_used_mib / 1024).toFixed(1)} / ${fmtMib(g.vram_total_mib)}`,
      ),
    ),
  );
}

/** KV-cache usage (0..1 on the wire) as a bar. */
export function kvBar(n) {
  return bar(n.kv_cache_usage === null ? null : n.kv_cache_usage * 100, `${n.id} KV-cache usage`);
}

/** Model chips. */
export function modelChips(n) {
  if (!n.models.length) return h("span.muted", { text: "none" });
  return h("div.chips", {}, n.models.map((m) => h("span.chip", { text: m })));
}

/** Region / tier / cost chips. */
export function labelChips(n) {
  const l = n.labels;
  const chips = [];
  if (l.region) chips.push(h("span.chip.label", { title: "region", text: l.region }));
  if (l.tier) chips.push(h("span.chip.label", { title: "tier", text: l.tier }));
  if (l.cost_per_hour_usd !== null) chips.push(h("span.chip.label", { title: "cost per hour", text: `$${l.cost_per_hour_usd}/h` }));
  return chips.length ? h("div.chips", {}, chips) : h("span.muted", { text: "—" });
}

/** Active requests with the node's slot limit. */
export function activeText(n) {
  return n.max_concurrency ? `${n.active_requests} / ${n.max_concurrency}` : String(n.active_requests);
}

/** Plain figures used by both views. */
export const figures = {
  total: (n) => n.total_requests.toLocaleString("en-US"),
  avg: (n) => fmtMs(n.avg_response_time_ms),
  lastSeen: (n) => ago(n.last_seen),
};
