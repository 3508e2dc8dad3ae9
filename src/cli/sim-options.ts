import { option } from "../config/spec.js";

/** Every option of `llmlb sim`. */
export const SIM_OPTIONS = {
  profile: option({
    type: "string",
    env: ["LLMLB_SIM_PROFILE"],
    default: "rtx4090",
    description: "GPU profile",
  }),
  model: option({
    type: "string",
    env: ["LLMLB_SIM_MODEL"],
    default: "llama-3.1-8b",
    description: "Model profile",
  }),
  host: option({
    type: "string",
    env: ["LLMLB_SIM_HOST"],
    default: "127.0.0.1",
    description: "Address to bind",
  }),
  port: option({
    type: "int",
    env: ["LLMLB_SIM_PORT"],
    default: 9001,
    min: 0,
    max: 65535,
    description: "Port (0: any free port)",
  }),
  seed: option({
    type: "int",
    env: ["LLMLB_SIM_SEED"],
    default: 1,
    description: "Random seed (deterministic text and lengths)",
  }),
  timeScale: option({
    type: "number",
    env: ["LLMLB_SIM_TIME_SCALE"],
    default: 1,
    min: 0.001,
    max: 100_000,
    description: "Run this many times faster than real time",
  }),
  maxNumSeqs: option({
    type: "int",
    env: ["LLMLB_SIM_MAX_NUM_SEQS"],
    default: 256,
    min: 1,
    max: 100_000,
    description: "Engine batch limit (vLLM max_num_seqs)",
  }),
  instant: option({
    type: "bool",
    env: ["LLMLB_SIM_INSTANT"],
    default: false,
    description: "Answer at once (overhead benchmarks)",
  }),
};
