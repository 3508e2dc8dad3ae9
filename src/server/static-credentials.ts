import { createHash, timingSafeEqual } from "node:crypto";
import type { Credentials, Principal } from "../http/principal.js";

const sha256 = (s: string) => createHash("sha256").update(s).digest();

/**
 * Credentials from config only (LLMLB_API_KEYS / LLMLB_NODE_TOKENS), held hashed in memory.
 * Each static key is its own fair-queue user, named by a short hash so logs never hold the key.
 */
export function createStaticCredentials(apiKeys: readonly string[], nodeTokens: readonly string[]): Credentials {
  const keys = apiKeys.map((k) => ({ hash: sha256(k), id: `static-${sha256(k).toString("hex").slice(0, 8)}` }));
  const tokens = nodeTokens.map((t) => ({ hash: sha256(t), id: `static-${sha256(t).toString("hex").slice(0, 8)}` }));
  const find = (list: typeof keys, plain: string) => {
    const h = sha256(plain);
    return list.find((e) => timingSafeEqual(e.hash, h));
  };
  return {
    apiKey(plain): Principal | undefined {
      const e = find(keys, plain);
      return e ? { userId: e.id, keyId: e.id, scopes: new Set(["inference", "admin"]), via: "api_key" } : undefined;
    },
    nodeToken(plain) {
      return find(tokens, plain)?.id;
    },
  };
}
