/**
 * Jain's fairness index (Σx)² / (n·Σx²) over per-user service: 1 when all are equal, 1/n when one
 * user got everything. Empty or all-zero input counts as perfectly fair (nobody got more than anyone).
 */
export function jainIndex(values: readonly number[]): number {
  let sum = 0;
  let sumSq = 0;
  for (const v of values) {
    // The index is only defined for non-negative amounts; a NaN would silently poison the result.
    if (!Number.isFinite(v) || v < 0)
      throw new RangeError(`jainIndex: values must be finite and >= 0, got ${v}`);
    sum += v;
    sumSq += v * v;
  }
  if (sumSq === 0) return 1;
  return (sum * sum) / (values.length * sumSq);
}
