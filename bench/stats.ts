/**
 * Percentiles for the benchmarks' tables, one definition for all of them: nearest rank (the
 * smallest sample with at least q of the samples at or below it), NaN when there are none.
 */

/** The q-quantile (0 < q ≤ 1) of samples already sorted ascending. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** The q-quantile of samples in any order (sorts a copy). */
export function quantileOf(values: readonly number[], q: number): number {
  return quantile([...values].sort((a, b) => a - b), q);
}
