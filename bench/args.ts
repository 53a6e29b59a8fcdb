/** Command-line values of the benchmarks (node:util parseArgs gives strings). */

/** `values[name]` as a finite number; a clear error naming the flag otherwise. */
export function numberArg(values: Readonly<Record<string, unknown>>, name: string): number {
  const value = Number(values[name]);
  if (!Number.isFinite(value)) throw new Error(`--${name}: not a number`);
  return value;
}

/** `--name N` from `argv` as a positive integer, undefined when absent; a clear error otherwise. */
export function positiveIntFlag(argv: readonly string[], name: string): number | undefined {
  const at = argv.indexOf(`--${name}`);
  if (at < 0) return undefined;
  const value = Number(argv[at + 1]);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer`);
  return value;
}
