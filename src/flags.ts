/**
 * The value parsers behind the option table's kinds (src/cli/options.ts): integers, Go-style
 * durations, upstream's boolean spellings (`--x`, `--x=true`, `--x=false`) and comma-separated,
 * repeatable lists. A bad value is commander's InvalidArgumentError (exit 1 with the flag named).
 */
import { InvalidArgumentError } from 'commander';
import { parseDuration } from './duration.js';

export function intArg(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed)) throw new InvalidArgumentError(`"${value}" is not an integer`);
  return parsed;
}

export function durationArg(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export function boolArg(value: string | undefined): boolean {
  if (value === undefined || value === '') return true;
  const lowered = value.toLowerCase();
  if (['true', '1', 't', 'yes'].includes(lowered)) return true;
  if (['false', '0', 'f', 'no'].includes(lowered)) return false;
  throw new InvalidArgumentError(`"${value}" is not a boolean`);
}

/** Comma-separated (and repeatable) list flag. */
export function listArg(value: string, previous: string[] | undefined): string[] {
  const items = value.split(',').map((item) => item.trim()).filter(Boolean);
  return [...(previous ?? []), ...items];
}

const QUANTITY_SUFFIXES: Readonly<Record<string, number>> = {
  '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40,
};

/**
 * A byte size as llm-d's gRPC message-size flags take it: a Kubernetes quantity (`10Mi`, `25M`,
 * `1048576`) with an optional trailing `B` (`10MiB`, `25MB`). Whole, non-negative bytes only.
 */
export function byteSizeArg(value: string): number {
  const text = value.trim().replace(/(?<=.)[Bb]$/, '');
  const match = /^(\d+(?:\.\d+)?)(k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(text);
  const bytes = match ? Number(match[1]) * QUANTITY_SUFFIXES[match[2] ?? '']! : NaN;
  if (!Number.isSafeInteger(bytes)) throw new InvalidArgumentError(`"${value}" is not a byte size (e.g. 10MiB, 25MB, 4194304)`);
  return bytes;
}
