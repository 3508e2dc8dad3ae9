import { hash, randomBytes, timingSafeEqual } from "node:crypto";

/** The tag in front of a generated credential: `sk-` API keys, `nt-` node tokens. */
export type SecretTag = "sk" | "nt";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/** 43 base62 characters carry 43 × log2(62) ≈ 256.03 bits: at least 32 random bytes' worth. */
export const SECRET_BODY_LENGTH = 43;
/** Characters of the body shown to operators after the tag (e.g. `sk-AbCd1234`). */
export const DISPLAY_BODY_LENGTH = 8;

/** `n` uniformly random base62 characters (base62 so a double-click selects the whole key). */
export function randomBase62(n: number): string {
  let out = "";
  while (out.length < n) {
    for (const byte of randomBytes(n + 16)) {
      // Reject 248..255 so that `byte % 62` stays uniform (248 = 4 × 62).
      if (byte >= 248) continue;
      out += BASE62[byte % 62];
      if (out.length === n) break;
    }
  }
  return out;
}

/**
 * SHA-256 of a credential. Generated keys and tokens carry ≥ 256 bits of entropy, so a fast hash
 * is enough: nobody can brute-force the preimage, and a slow KDF (argon2) would cost milliseconds
 * on every request. Passwords, which are guessable, use argon2id instead (see users.ts).
 */
export function hashSecret(plain: string): Buffer {
  // The one-shot hash: every request hashes its key, and a Hash object costs twice as much.
  return hash("sha256", plain, "buffer");
}

/** Constant-time comparison of two hashes (false, not an exception, when lengths differ). */
export function hashesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The display prefix of a generated credential: its tag and the first 8 body characters. */
export function displayPrefix(tag: SecretTag, plain: string): string {
  return plain.slice(0, tag.length + 1 + DISPLAY_BODY_LENGTH);
}

/** Whether `plain` has the shape of a credential we generated with this tag. */
export function looksGenerated(tag: SecretTag, plain: string): boolean {
  return plain.length === tag.length + 1 + SECRET_BODY_LENGTH && plain.startsWith(`${tag}-`);
}

/** A fresh credential: the plain text (shown once), its display prefix and its hash. */
export interface GeneratedSecret {
  readonly plain: string;
  readonly prefix: string;
  readonly hash: Buffer;
}

/** Generates a new `sk-…` or `nt-…` credential from the OS CSPRNG. */
export function generateSecret(tag: SecretTag): GeneratedSecret {
  const plain = `${tag}-${randomBase62(SECRET_BODY_LENGTH)}`;
  return { plain, prefix: displayPrefix(tag, plain), hash: hashSecret(plain) };
}

/**
 * The display prefix of an operator-chosen static credential: at most a quarter of it (≤ 8
 * characters), because static values may be short and guessable ("demo-key") and the prefix is
 * shown to anyone who may list keys.
 */
export function staticDisplayPrefix(plain: string): string {
  return plain.slice(0, Math.min(DISPLAY_BODY_LENGTH, Math.floor(plain.length / 4)));
}
