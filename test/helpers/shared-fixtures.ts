import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (two levels above test/helpers). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The shared fixtures folder: `../shared/fixtures` from the repo root. */
export const FIXTURES_DIR = resolve(REPO_ROOT, "../shared/fixtures");

/** Absolute path of a fixture, e.g. fixturePath("engines/vllm/v1-models-lora-aibrix.json"). */
export function fixturePath(relative: string): string {
  return resolve(FIXTURES_DIR, relative);
}

/** A fixture's text. */
export function readFixture(relative: string): string {
  return readFileSync(fixturePath(relative), "utf8");
}

/** The fake nvidia-smi stand-in (an executable Node script). */
export const FAKE_NVIDIA_SMI = resolve(REPO_ROOT, "test/helpers/fake-nvidia-smi.mjs");

/** The fake rocm-smi stand-in (an executable Node script). */
export const FAKE_ROCM_SMI = resolve(REPO_ROOT, "test/helpers/fake-rocm-smi.mjs");
