/** One sample line of a Prometheus text exposition. */
export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A parsed exposition: samples in order, TYPE/HELP by metric family, and lines that did not parse. */
export interface PromExposition {
  readonly samples: readonly PromSample[];
  readonly types: ReadonlyMap<string, string>;
  readonly help: ReadonlyMap<string, string>;
  readonly invalidLines: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function parseValue(token: string): number | undefined {
  switch (token) {
    case "+Inf":
    case "Inf":
      return Number.POSITIVE_INFINITY;
    case "-Inf":
      return Number.NEGATIVE_INFINITY;
    case "NaN":
      return Number.NaN;
  }
  // Number("") is 0 and Number("0x10") is 16: accept only decimal float syntax.
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(token)) return undefined;
  return Number(token);
}

function unescapeLabel(raw: string): string {
  return raw.replace(/\\(["\\n])/g, (_m, c: string) => (c === "n" ? "\n" : c));
}

/** Parses `{a="x",b="y\"z"}` at the start of `rest`; returns labels and the remaining text. */
function parseLabels(rest: string): { labels: Record<string, string>; rest: string } | undefined {
  const labels: Record<string, string> = {};
  let s = rest.slice(1);
  for (;;) {
    s = s.trimStart();
    if (s.startsWith("}")) return { labels, rest: s.slice(1) };
    const name = LABEL_NAME.exec(s)?.[0];
    if (name === undefined) return undefined;
    s = s.slice(name.length).trimStart();
    if (!s.startsWith('="') && !s.startsWith('= "')) return undefined;
    s = s.slice(s.indexOf('"') + 1);
    let end = 0;
    while (end < s.length && s[end] !== '"') end += s[end] === "\\" ? 2 : 1;
    if (end >= s.length) return undefined;
    labels[name] = unescapeLabel(s.slice(0, end));
    s = s.slice(end + 1).trimStart();
    if (s.startsWith(",")) s = s.slice(1);
    else if (!s.startsWith("}")) return undefined;
  }
}

/** Parses one sample line; undefined when it is not one. */
export function parsePromSampleLine(line: string): PromSample | undefined {
  const name = NAME.exec(line)?.[0];
  if (name === undefined) return undefined;
  let rest = line.slice(name.length);
  let labels: Record<string, string> = {};
  if (rest.startsWith("{")) {
    const parsed = parseLabels(rest);
    if (!parsed) return undefined;
    labels = parsed.labels;
    rest = parsed.rest;
  }
  // After the value an optional timestamp (and, in OpenMetrics, an exemplar after "#") may follow.
  const tokens = rest.split("#")[0]?.trim().split(/\s+/) ?? [];
  const valueToken = tokens[0];
  if (valueToken === undefined || tokens.length > 2) return undefined;
  const value = parseValue(valueToken);
  if (value === undefined) return undefined;
  return { name, labels, value };
}

/** Options of parsePrometheusText. */
export interface PromParseOptions {
  /**
   * Keep only samples (and TYPE/HELP) of these metric names. Lines of other metrics are skipped
   * without being parsed or validated: an agent reads 5 of vLLM's ~150 series every second, and
   * parsing the rest (histogram buckets) was most of its idle CPU and garbage.
   */
  only?: ReadonlySet<string>;
}

/** The metric name a sample line starts with, found without a regex or a copy of the line. */
function sampleName(line: string): string {
  let end = 0;
  while (end < line.length) {
    const c = line.charCodeAt(end);
    if (c === 123 /* { */ || c === 32 /* space */ || c === 9 /* tab */) break;
    end += 1;
  }
  return line.slice(0, end);
}

/** The metric a `# TYPE name …` / `# HELP name …` line is about ("" for other comments). */
function metaName(line: string): string {
  const m = /^#\s*(?:HELP|TYPE)\s+(\S+)/.exec(line);
  return m?.[1] ?? "";
}

/**
 * Parses the Prometheus text format (0.0.4, and the OpenMetrics subset engines emit). Never throws:
 * lines it cannot read are counted in `invalidLines` so one odd line does not hide every signal.
 */
export function parsePrometheusText(text: string, opts: PromParseOptions = {}): PromExposition {
  const only = opts.only;
  const samples: PromSample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  let invalidLines = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const raw = text.slice(start, end);
    start = end + 1;
    const line = raw.trim();
    if (line === "") continue;
    if (line.startsWith("#")) {
      if (only && !only.has(metaName(line))) continue;
      const meta = /^#\s*(HELP|TYPE)\s+(\S+)\s?(.*)$/.exec(line);
      if (meta?.[1] === "TYPE" && meta[2] !== undefined) types.set(meta[2], (meta[3] ?? "").trim());
      else if (meta?.[1] === "HELP" && meta[2] !== undefined) help.set(meta[2], meta[3] ?? "");
      continue; // other comments, including "# EOF", carry nothing we need
    }
    if (only && !only.has(sampleName(line))) continue;
    const sample = parsePromSampleLine(line);
    if (sample) samples.push(sample);
    else invalidLines += 1;
  }
  return { samples, types, help, invalidLines };
}
