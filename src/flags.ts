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
