import { createSeededRng } from "../util/rng.js";
// Deterministic stand-ins for a tokenizer and a sampler: cheap, seeded, and stable across runs.

/** Characters per simulated token: prompt tokens = ceil(chars / 4), at least 1. */
export const CHARS_PER_TOKEN = 4;

/** Dimensions of /v1/embeddings vectors unless the request asks for fewer. */
export const EMBEDDING_DIM = 768;

/** A 53-bit string hash (cyrb53): fast, well mixed, and collisions are negligible at KV-cache sizes. */
export function hash53(text: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** A seeded PRNG (mulberry32) returning floats in [0, 1). */
export const createRng = createSeededRng;

/** A prompt as the engine sees it: text (tokenised by length) or token ids from /v1/completions. */
export type PromptInput = { readonly text: string } | { readonly ids: readonly number[] };

/** Simulated token count of a prompt. */
export function countPromptTokens(prompt: PromptInput): number {
  if ("ids" in prompt) return Math.max(1, prompt.ids.length);
  return Math.max(1, Math.ceil(prompt.text.length / CHARS_PER_TOKEN));
}

/** Renders chat messages as a chat template would: a fixed header per message, then the assistant cue. */
export function renderChat(messages: readonly { readonly role: string; readonly content: string }[]): string {
  let out = "";
  for (const m of messages) out += `<|start_header_id|>${m.role}<|end_header_id|>\n\n${m.content}<|eot_id|>`;
  return `${out}<|start_header_id|>assistant<|end_header_id|>\n\n`;
}

/**
 * Cumulative hashes of the prompt's full KV blocks: block i's hash covers tokens [0, 16(i+1)), so two
 * prompts share a cached block only when everything before it matches too (vLLM's prefix caching).
 */
export function promptBlockHashes(prompt: PromptInput, blockSize: number): number[] {
  const fullBlocks = Math.floor(countPromptTokens(prompt) / blockSize);
  const hashes: number[] = [];
  let prev = 0;
  for (let i = 0; i < fullBlocks; i++) {
    const piece =
      "ids" in prompt
        ? prompt.ids.slice(i * blockSize, (i + 1) * blockSize).join(",")
        : prompt.text.slice(i * blockSize * CHARS_PER_TOKEN, (i + 1) * blockSize * CHARS_PER_TOKEN);
    // Two 32-bit seeds from the previous hash chain the blocks.
    prev = hash53(piece, (prev % 4294967296) ^ Math.floor(prev / 4294967296));
    hashes.push(prev);
  }
  return hashes;
}

/** What the sampler decided for one request: its token texts and why it stops. */
export interface SampledOutput {
  readonly tokens: readonly string[];
  readonly finishReason: "stop" | "length";
}

const WORDS = (
  "the a GPU model token batch cache request engine memory kernel tensor layer attention prefix " +
  "decode prefill stream latency throughput node queue schedule fair load balance simulated answer " +
  "is of to and in that it for with as on by this we can will each when more fast small large step"
).split(" ");

/** Median and spread of the natural answer length (log-normal), before max_tokens cuts it. */
const LENGTH_MEDIAN = 180;
const LENGTH_SIGMA = 0.8;

/**
 * Samples an answer. The natural length is log-normal (median 180 tokens); max_tokens truncates it
 * ("length"), otherwise it ends with "stop"; ignore_eos always runs to max_tokens. The RNG stream is
 * the same whatever max_tokens is, so a longer limit extends the same text.
 */
export function sampleOutput(seed: number, maxTokens: number, ignoreEos: boolean): SampledOutput {
  const rng = createRng(seed);
  const u1 = Math.max(rng(), 1e-12);
  const u2 = rng();
  const gaussian = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  const natural = Math.max(1, Math.round(LENGTH_MEDIAN * Math.exp(LENGTH_SIGMA * gaussian)));
  const length = ignoreEos ? maxTokens : Math.min(natural, maxTokens);
  const tokens: string[] = [];
  let capitalise = true;
  for (let i = 0; i < length; i++) {
    const r = rng();
    if (!capitalise && r < 0.08) {
      tokens.push(".");
      capitalise = true;
      continue;
    }
    const word = WORDS[Math.floor(rng() * WORDS.length)] as string;
    const text = capitalise ? word.charAt(0).toUpperCase() + word.slice(1) : word;
    tokens.push(i === 0 ? text : ` ${text}`);
    capitalise = false;
  }
  return { tokens, finishReason: !ignoreEos && natural <= maxTokens ? "stop" : "length" };
}

/** A deterministic unit-length embedding of `text`, seeded. */
export function embed(text: string, seed: number, dims: number): number[] {
  const rng = createRng(hash53(text, seed));
  const v = new Array<number>(dims);
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    const x = rng() * 2 - 1;
    v[i] = x;
    norm += x * x;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < dims; i++) v[i] = (v[i] as number) * scale;
  return v;
}
