/** Characters per prefix block; agents may announce their own in Register. */
export const DEFAULT_PREFIX_BLOCK_CHARS = 256;
// Hash at most this many leading blocks: affinity matters for shared system prompts, not whole books.
const MAX_PREFIX_BLOCKS = 64;

/** The prompt text of an OpenAI request, concatenated in order (chat messages or completion prompt). */
export function promptText(body: Record<string, unknown>): string {
  const messages = body.messages;
  if (Array.isArray(messages)) {
    let out = "";
    for (const m of messages) {
      if (!m || typeof m !== "object") continue;
      const msg = m as { role?: unknown; content?: unknown };
      out += `${String(msg.role ?? "")}\n`;
      if (typeof msg.content === "string") out += msg.content;
      else if (Array.isArray(msg.content)) {
        for (const part of msg.content) {
          const p = part as { type?: unknown; text?: unknown };
          if (p && typeof p.text === "string") out += p.text;
        }
      }
      out += "\n";
    }
    return out;
  }
  const prompt = body.prompt ?? body.input;
  if (typeof prompt === "string") return prompt;
  if (Array.isArray(prompt)) return prompt.filter((p) => typeof p === "string").join("\n");
  return "";
}

/** A tokenizer-free estimate: ~4 characters per token for English text (OpenAI's rule of thumb). */
export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

/**
 * Cumulative hashes of the prompt's leading fixed-size blocks: hash i covers blocks 0..i, so two
 * prompts share hash i exactly when they share their first i+1 blocks. Two 32-bit FNV-1a lanes with
 * different offsets give a 64-bit value cheaply without BigInt arithmetic in the loop.
 */
export function prefixHashes(text: string, blockChars = DEFAULT_PREFIX_BLOCK_CHARS): bigint[] {
  const blocks = Math.min(MAX_PREFIX_BLOCKS, Math.floor(text.length / blockChars));
  const out: bigint[] = new Array(blocks);
  let h1 = 0x811c9dc5;
  let h2 = 0x050c5d1f;
  for (let b = 0; b < blocks; b++) {
    const end = (b + 1) * blockChars;
    for (let i = b * blockChars; i < end; i++) {
      const c = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x01000193) ^ (h2 >>> 13);
    }
    out[b] = (BigInt(h1 >>> 0) << 32n) | BigInt(h2 >>> 0);
  }
  return out;
}
