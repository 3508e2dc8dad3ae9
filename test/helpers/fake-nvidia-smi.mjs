#!/usr/bin/env node
// Stand-in for nvidia-smi that replays the real H100 captures in shared/fixtures/gpu/nvidia-h100.
// It accepts the real tool's flags (--query-gpu=…, --format=csv[,noheader][,nounits], -lms N,
// --loop-ms=N, -l N, -L) and prints the captured values of the fields asked for.
//
// Environment:
//   FAKE_NVIDIA_SMI_SCENARIO   idle | light | heavy (default idle). In heavy loop mode the live
//                              columns cycle through the real 500 ms loop capture (nvsmi-loop-heavy.csv).
//   FAKE_NVIDIA_SMI_MODE       normal | hang | garbage | exit (default normal)
//                              hang: after FAULT_AFTER ticks print nothing, stay alive, ignore SIGTERM
//                              garbage: after every tick also print one unparsable line
//                              exit: after FAULT_AFTER ticks exit with code 1
//   FAKE_NVIDIA_SMI_FAULT_AFTER  ticks before the fault (default 3)
//   FAKE_NVIDIA_SMI_REJECT_FIELDS  comma list of fields to reject like an old driver does
//                              (prints `Field "x" is not a valid field to query.` and exits 2)
//   FAKE_NVIDIA_SMI_LOG        file to which each invocation appends {"pid","args"} as a JSON line
//   FAKE_NVIDIA_SMI_FIXTURES   fixtures folder (default ../../../shared/fixtures from this file)
import { appendFileSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = process.env.FAKE_NVIDIA_SMI_FIXTURES ?? resolve(here, "../../../shared/fixtures");
const h100 = join(fixtures, "gpu", "nvidia-h100");
const scenario = process.env.FAKE_NVIDIA_SMI_SCENARIO ?? "idle";
const mode = process.env.FAKE_NVIDIA_SMI_MODE ?? "normal";
const faultAfter = Number(process.env.FAKE_NVIDIA_SMI_FAULT_AFTER ?? "3");
const rejectFields = (process.env.FAKE_NVIDIA_SMI_REJECT_FIELDS ?? "").split(",").filter(Boolean);
const args = process.argv.slice(2);

if (process.env.FAKE_NVIDIA_SMI_LOG) {
  appendFileSync(process.env.FAKE_NVIDIA_SMI_LOG, `${JSON.stringify({ pid: process.pid, args })}\n`);
}
if (!["idle", "light", "heavy"].includes(scenario)) {
  process.stderr.write(`fake nvidia-smi: unknown FAKE_NVIDIA_SMI_SCENARIO ${scenario}\n`);
  process.exit(2);
}

const read = (name) => readFileSync(join(h100, name), "utf8");

/** Value of `--flag=v`, `--flag v` or `-f v`. */
function option(...names) {
  for (let i = 0; i < args.length; i += 1) {
    const a = args[i];
    for (const n of names) {
      if (a === n) return args[i + 1];
      if (a.startsWith(`${n}=`)) return a.slice(n.length + 1);
    }
  }
  return undefined;
}

if (args.includes("-L") || args.includes("--list-gpus")) {
  process.stdout.write(read("nvsmi-L.txt"));
  process.exit(0);
}
const query = option("--query-gpu");
if (query === undefined) {
  process.stdout.write(read(`nvsmi-plain-${scenario}.txt`));
  process.exit(0);
}

// Columns of the captured query: header names (units stripped) → value with and without units.
const split = (line) => line.split(",").map((c) => c.trim());
const withUnits = read(`nvsmi-query-${scenario}.csv`).trim().split("\n");
const headerCells = split(withUnits[0]);
const unitValues = split(withUnits[1]);
const bareValues = split(read(`nvsmi-query-nounits-${scenario}.csv`).trim());
const columns = new Map();
headerCells.forEach((h, i) => {
  const name = h.replace(/\s*\[[^\]]*\]$/, "");
  columns.set(name, { header: h, unit: unitValues[i], bare: bareValues[i] });
});
// mig.mode.current is not in the CSV capture; the same state's `-q -x` capture has it.
const mig = /<current_mig>([^<]*)<\/current_mig>/.exec(read(`nvsmi-q-${scenario}.xml`))?.[1] ?? "[N/A]";
columns.set("mig.mode.current", { header: "mig.mode.current", unit: mig, bare: mig });
// Names the real tool accepts for the same columns (its --help-query-gpu lists these aliases).
const aliases = {
  gpu_name: "name",
  gpu_uuid: "uuid",
  gpu_bus_id: "pci.bus_id",
  "clocks.sm": "clocks.current.sm",
  "clocks.mem": "clocks.current.memory",
};

const fields = query.split(",").map((f) => f.trim());
for (const f of fields) {
  if (rejectFields.includes(f) || !columns.has(aliases[f] ?? f)) {
    process.stdout.write(`Field "${f}" is not a valid field to query.\n\n`);
    process.exit(2);
  }
}
const format = (option("--format") ?? "csv").split(",");
const noHeader = format.includes("noheader");
const noUnits = format.includes("nounits");

// Live columns of the heavy loop capture, in its query order.
const loopFields = ["index", "utilization.gpu", "memory.used", "temperature.gpu", "power.draw"];
const loopRows = read("nvsmi-loop-heavy.csv").trim().split("\n").map(split);

function row(tick) {
  const loopRow = scenario === "heavy" ? loopRows[tick % loopRows.length] : undefined;
  return fields
    .map((f) => {
      const col = columns.get(aliases[f] ?? f);
      const li = loopFields.indexOf(f);
      if (loopRow && li > 0) {
        const unit = col.unit.includes(" ") ? col.unit.slice(col.unit.lastIndexOf(" ")) : "";
        return noUnits ? loopRow[li] : `${loopRow[li]}${unit}`;
      }
      return noUnits ? col.bare : col.unit;
    })
    .join(", ");
}

if (!noHeader) process.stdout.write(`${fields.map((f) => columns.get(aliases[f] ?? f).header).join(", ")}\n`);

const loopMs = Number(option("-lms", "--loop-ms") ?? Number(option("-l", "--loop") ?? "0") * 1000);
if (!(loopMs > 0)) {
  process.stdout.write(`${row(0)}\n`);
  process.exit(0);
}

const garbage = ["garbage \u2603 not csv", "0, GPU-a637c4b9", "\u0000\u0001\u0002"];
let tick = 0;
const timer = setInterval(() => {
  if (tick >= faultAfter && mode === "hang") {
    // A wedged nvidia-smi (stuck in the driver) ignores SIGTERM; only SIGKILL ends it.
    process.on("SIGTERM", () => {});
    clearInterval(timer);
    setInterval(() => {}, 60_000);
    return;
  }
  if (tick >= faultAfter && mode === "exit") {
    process.stderr.write("fake nvidia-smi: exiting as FAKE_NVIDIA_SMI_MODE=exit asks\n");
    process.exit(1);
  }
  process.stdout.write(`${row(tick)}\n`);
  if (mode === "garbage") process.stdout.write(`${garbage[tick % garbage.length]}\n`);
  tick += 1;
}, loopMs);
process.stdout.write(`${row(tick)}\n`);
tick += 1;
