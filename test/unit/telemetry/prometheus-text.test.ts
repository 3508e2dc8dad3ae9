import { describe, expect, it } from "vitest";
import { metricValue } from "../../../src/agent/engines/metric-value.js";
import { parsePrometheusText, parsePromSampleLine } from "../../../src/agent/engines/prometheus-text.js";
import { readFixture } from "../../helpers/shared-fixtures.js";

/** Lines that are samples in a fixture: anything not blank and not a comment. */
function sampleLineCount(text: string): number {
  return text.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#")).length;
}

describe("Prometheus text parser on every engine /metrics fixture", () => {
  it.each([
    ["engines/vllm/metrics-v1-nvcr-25.09-qwen3-4b.prom", 67],
    ["engines/vllm/metrics-v0-excerpt-aibrix-qwen2.5-coder.prom", 14],
    ["engines/sglang/metrics-docs-llama3.1-8b.prom", 12],
    ["engines/llamacpp/metrics-help-type-excerpt-pr11512.prom", 2],
  ])("parses %s: every sample line, no invalid line", (file, families) => {
    const text = readFixture(file);
    const expo = parsePrometheusText(text);
    expect(expo.invalidLines).toBe(0);
    expect(expo.samples).toHaveLength(sampleLineCount(text));
    expect(expo.types.size).toBe(families);
  });

  it("reads labels, floats in exponent form and HELP/TYPE of the vLLM v1 scrape", () => {
    const expo = parsePrometheusText(readFixture("engines/vllm/metrics-v1-nvcr-25.09-qwen3-4b.prom"));
    const kv = expo.samples.find((s) => s.name === "vllm:kv_cache_usage_perc");
    expect(kv).toEqual({
      name: "vllm:kv_cache_usage_perc",
      labels: { engine: "0", model_name: "Qwen/Qwen3-4B-Instruct-2507-FP8" },
      value: 0.0011764705882353343,
    });
    expect(expo.types.get("vllm:prefix_cache_hits_total")).toBe("counter");
    expect(expo.help.get("vllm:gpu_cache_usage_perc")).toMatch(/DEPRECATED: Use vllm:kv_cache_usage_perc/);
    const start = expo.samples.find((s) => s.name === "process_start_time_seconds");
    expect(start?.value).toBe(1.77104238234e9);
    const cfg = expo.samples.find((s) => s.name === "vllm:cache_config_info");
    expect(cfg?.labels.num_gpu_blocks).toBe("850");
    expect(cfg?.labels.enable_prefix_caching).toBe("True");
    const reqs = expo.samples
      .filter((s) => s.name === "vllm:request_success_total")
      .map((s) => s.labels.finished_reason);
    expect(reqs).toEqual(["stop", "length", "abort"]);
  });

  it("reads the vLLM v0 excerpt, cut off mid-histogram", () => {
    const expo = parsePrometheusText(
      readFixture("engines/vllm/metrics-v0-excerpt-aibrix-qwen2.5-coder.prom"),
    );
    const lora = expo.samples.find((s) => s.name === "vllm:lora_requests_info");
    expect(lora?.labels).toEqual({ max_lora: "0", running_lora_adapters: "", waiting_lora_adapters: "" });
    expect(lora?.value).toBe(1.7382173358407154e9);
    expect(metricValue(expo, ["vllm:gpu_prefix_cache_hit_rate"], "mean")).toBe(-1);
    expect(metricValue(expo, ["vllm:generation_tokens_total"], "sum")).toBe(955);
  });

  it("reads the SGLang docs scrape", () => {
    const expo = parsePrometheusText(readFixture("engines/sglang/metrics-docs-llama3.1-8b.prom"));
    expect(metricValue(expo, ["sglang:prompt_tokens_total"], "sum")).toBe(8.128902e6);
    expect(metricValue(expo, ["sglang:gen_throughput"], "sum")).toBe(86.50814177726902);
    const fn = expo.samples.find((s) => s.name === "sglang:func_latency_seconds_sum");
    expect(fn?.labels).toEqual({ name: "generate_request" });
  });

  it.each([
    "engines/vllm/series-names-llmkube.txt",
    "engines/sglang/series-names-llmkube.txt",
    "engines/llamacpp/series-names-llmkube.txt",
  ])("accepts every series name in %s", (file) => {
    for (const name of readFixture(file).split("\n").filter(Boolean)) {
      expect(parsePromSampleLine(`${name} 1`)?.name).toBe(name);
    }
  });
});

describe("Prometheus text parser edge cases", () => {
  it.each([
    ['m{a="x\\"y",b="c\\\\d",n="l1\\nl2"} 1', { a: 'x"y', b: "c\\d", n: "l1\nl2" }, 1],
    ['m{a="}{,"} 2', { a: "}{," }, 2],
    ['m{a="1",} 3', { a: "1" }, 3],
    ["m 4 1712345678000", {}, 4],
    ["m +Inf", {}, Number.POSITIVE_INFINITY],
    ["m -Inf", {}, Number.NEGATIVE_INFINITY],
    ['m_bucket{le="+Inf"} 5 # {trace_id="abc"} 1.0', { le: "+Inf" }, 5],
  ])("parses %s", (line, labels, value) => {
    expect(parsePromSampleLine(line)).toEqual({ name: line.split(/[{ ]/)[0], labels, value });
  });

  it("parses NaN as NaN", () => {
    expect(parsePromSampleLine("m NaN")?.value).toBeNaN();
  });

  it.each(["m", 'm{a="x} 1', "m{a=x} 1", "m 0x10", "m 1 2 3", "9m 1", 'm{1a="x"} 1'])(
    "rejects %j",
    (line) => {
      expect(parsePromSampleLine(line)).toBeUndefined();
    },
  );

  it("counts invalid lines and keeps the rest, ignores other comments and # EOF", () => {
    const expo = parsePrometheusText('# a comment\nm 1\nnot a sample line at all\r\nn{x="1"} 2\n# EOF\n');
    expect(expo.samples.map((s) => s.name)).toEqual(["m", "n"]);
    expect(expo.invalidLines).toBe(1);
  });
});

describe("metricValue", () => {
  const expo = parsePrometheusText(
    [
      'r{engine="0"} 3',
      'r{engine="1"} 4',
      'kv{engine="0"} 0.2',
      'kv{engine="1"} 0.4',
      'q{tp_rank="0",dp="0"} 5',
      'q{tp_rank="1",dp="0"} 5',
      'q{tp_rank="0",dp="1"} 2',
      'q{tp_rank="1",dp="1"} 2',
      "bad NaN",
    ].join("\n"),
  );

  it("sums and averages across data-parallel series", () => {
    expect(metricValue(expo, ["r"], "sum")).toBe(7);
    expect(metricValue(expo, ["kv"], "mean")).toBeCloseTo(0.3);
    expect(metricValue(expo, ["r"], "max")).toBe(4);
  });

  it("does not add up tensor-parallel replicas", () => {
    expect(metricValue(expo, ["q"], "sum", { replicaLabels: ["tp_rank"] })).toBe(7);
    expect(metricValue(expo, ["q"], "sum")).toBe(14);
  });

  it("falls back through renamed metrics and skips NaN", () => {
    expect(metricValue(expo, ["new_name", "r"], "sum")).toBe(7);
    expect(metricValue(expo, ["bad"], "sum")).toBeUndefined();
    expect(metricValue(expo, ["absent"], "sum")).toBeUndefined();
  });
});
