#!/usr/bin/env node
// Stand-in for rocm-smi that prints the real RX 6700 XT capture
// (shared/fixtures/gpu/amd/rocm-smi-rx6700xt-rocm612.json) whatever --show* flags it gets.
//
// Environment:
//   FAKE_ROCM_SMI_MODE  normal | hang | garbage | exit (default normal)
//                       hang: never answers (the collector's timeout must kill it)
//                       garbage: prints text that is not JSON
//                       exit: prints nothing and exits with code 1
//   FAKE_ROCM_SMI_PREFIX  text printed before the JSON (real builds sometimes print
//                       "Exception caught: map::at" there)
//   FAKE_ROCM_SMI_FIXTURES  fixtures folder (default ../../../shared/fixtures from this file)
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = process.env.FAKE_ROCM_SMI_FIXTURES ?? resolve(here, "../../../shared/fixtures");
const mode = process.env.FAKE_ROCM_SMI_MODE ?? "normal";

if (mode === "hang") {
  setInterval(() => {}, 60_000);
} else if (mode === "exit") {
  process.stderr.write("fake rocm-smi: exiting as FAKE_ROCM_SMI_MODE=exit asks\n");
  process.exit(1);
} else if (mode === "garbage") {
  process.stdout.write("ERROR: GPU[0] : not a JSON answer\n");
} else {
  const prefix = process.env.FAKE_ROCM_SMI_PREFIX;
  if (prefix) process.stdout.write(`${prefix}\n`);
  process.stdout.write(readFileSync(join(fixtures, "gpu", "amd", "rocm-smi-rx6700xt-rocm612.json"), "utf8"));
}
