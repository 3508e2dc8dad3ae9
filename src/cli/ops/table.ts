/** A cell: null and undefined print as "-" (unknown), never as 0. */
export type Cell = string | number | boolean | null | undefined;

// Names come from the server and may hold anything printable; tabs and newlines would break rows.
const CONTROL = /\p{Cc}/gu;

function cellText(c: Cell): string {
  if (c === null || c === undefined || c === "") return "-";
  return String(c).replace(CONTROL, " ");
}

/** Renders rows under headers as aligned columns separated by two spaces. */
export function table(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = rows.map((r) => headers.map((_, i) => cellText(r[i])));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return `${[line(headers), ...text.map(line)].join("\n")}\n`;
}

/** "45.5" for a percentage, "-" when unknown. */
export function percent(v: number | null | undefined): string {
  return v === null || v === undefined ? "-" : v.toFixed(1);
}

/** "3s ago" / "5m ago" from an ISO time, relative to now. */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "-";
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (!Number.isFinite(s)) return "-";
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** The date and minute of an ISO time ("2024-01-12 10:30"), "-" when absent. */
export function when(iso: string | null | undefined): string {
  return iso ? iso.slice(0, 16).replace("T", " ") : "-";
}
