/**
 * Kubernetes resource quantities as llm-d's flow-control limits accept them: a non-negative
 * integer, or a number with a decimal (k, M, G, T, P, E) or binary (Ki, Mi, Gi, Ti, Pi, Ei) suffix.
 * "1Gi" = 2^30, "500M" = 5·10^8, "1k" = 1000. Fractions that do not come out whole are rejected.
 */
const SUFFIX: Record<string, number> = {
  '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** The value, or an Error message (string) describing what is wrong. */
export function parseQuantity(value: unknown): number | string {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : 'must be a non-negative integer';
  if (typeof value !== 'string') return 'must be a quantity such as 100, 1k, 500M or 1Gi';
  const match = /^(\d+(?:\.\d+)?)(k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(value.trim());
  if (!match) return `"${value}" is not a quantity (such as 100, 1k, 500M or 1Gi)`;
  const result = Number(match[1]) * SUFFIX[match[2] ?? '']!;
  return Number.isSafeInteger(result) ? result : `"${value}" is not a whole number within range`;
}
