/**
 * Copies an object without its undefined-valued keys. exactOptionalPropertyTypes forbids writing
 * `{ x: undefined }` for an optional `x`, and "unknown" must stay absent rather than become 0.
 */
export function withoutUndefined<T extends object>(value: { [K in keyof T]: T[K] | undefined }): T {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v !== undefined) out[key] = v;
  }
  return out as T;
}
