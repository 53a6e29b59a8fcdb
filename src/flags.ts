/**
 * Flag plumbing shared by every subcommand: each flag has an env var (shown by --help), Go-style
 * durations, upstream's boolean spellings (`--x`, `--x=true`, `--x=false`), and a way to tell
 * whether a value came from the command line (for flag > YAML > env/default precedence).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
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

/** A boolean flag that accepts `--name`, `--name=true|false` and its env var. */
export function boolOption(flags: string, description: string, env: string, defaultValue: boolean): Option {
  return new Option(`${flags} [bool]`, description).env(env).default(defaultValue).argParser(boolArg);
}

export function option(flags: string, description: string, env: string): Option {
  return new Option(flags, description).env(env);
}

/** True when the user set this option on the command line (not env, not default). */
export function fromCli(command: Command, key: string): boolean {
  return command.getOptionValueSource(key) === 'cli';
}

/**
 * One help layout for every subcommand: set on the top-level program, inherited by each
 * `.command()` (commander copies help settings to subcommands created after this call).
 */
export function uniformHelp(program: Command): Command {
  return program
    .configureHelp({ sortSubcommands: false, sortOptions: false, showGlobalOptions: false, helpWidth: 110 })
    .showHelpAfterError('(run with --help for the flags)');
}

/**
 * A flag another implementation defines that means nothing here: accepted (so shared manifests
 * work), hidden from --help, and reported by `givenCompatFlags` for a start-up warning.
 */
export function compatOption(flag: string, takesValue: boolean): Option {
  return new Option(takesValue ? `--${flag} <value>` : `--${flag} [bool]`, 'accepted for compatibility; no effect').hideHelp();
}

/** The compat flags (by name) the user actually gave, as `--name`. */
export function givenCompatFlags(command: Command, flags: readonly string[]): string[] {
  return flags.filter((flag) => command.getOptionValueSource(flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())) === 'cli').map((flag) => `--${flag}`);
}
