/** Command-line values of the benchmarks (node:util parseArgs gives strings). */

/** `values[name]` as a finite number; a clear error naming the flag otherwise. */
export function numberArg(values: Readonly<Record<string, unknown>>, name: string): number {
  const value = Number(values[name]);
  if (!Number.isFinite(value)) throw new Error(`--${name}: not a number`);
  return value;
}
