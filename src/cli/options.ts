/**
 * One way to declare a subcommand's options. Each option is a row of a table (`OptionSpec`): flag
 * name and aliases, value kind or parser, default, env var, whether the YAML configuration may set
 * it, help text, and whether it is deprecated or accepted with no effect (an upstream flag kept so
 * shared manifests start). From the table this module derives:
 *
 * - the commander options (`declareOptions`), with one help layout for every subcommand
 *   (`helpLayout`: `description (choices: …; default: …; env: …)`);
 * - typed access to the parsed values and where each came from (`optionValues`);
 * - strict YAML values keyed by the flag names (`yamlValue`, `yamlMapping`): an unknown key or a
 *   wrongly typed value is a `ConfigError` naming the key;
 * - the list of given no-effect flags, for the one start-up warning line (`givenNoEffect`).
 *
 * Precedence (flag > YAML > env > default, or flag > env > YAML for the simulator) is each
 * subcommand's decision; `optionValues().source` gives it what it needs.
 */
import { type Command, Help, Option } from 'commander';
import { ConfigError, type ConfigPath } from '../config-error.js';
import { parseDuration } from '../duration.js';
import { boolArg, durationArg, intArg, listArg } from '../flags.js';

export type OptionKind = 'string' | 'int' | 'bool' | 'list' | 'duration';

export interface OptionSpec {
  /** Long flag without dashes (`vllm-port`); also the YAML key when `yaml` is set. */
  name: string;
  /** One-letter alias (`v` for `-v`). */
  short?: string;
  kind: OptionKind;
  help: string;
  /** Env var read when the flag is not given (shown by --help). */
  env?: string;
  /** Default value (durations in Go syntax: parsed once, shown as written). */
  default?: number | string | boolean;
  /** Default as --help shows it when the value is resolved elsewhere (no `default`). */
  defaultText?: string;
  /** `<value>` placeholder in --help. */
  placeholder?: string;
  /** Parser replacing the kind's (commander calls it with the raw text). */
  parse?: (value: string, previous: unknown) => unknown;
  /** Allowed values, checked by commander. */
  choices?: readonly string[];
  /** Allowed values shown in --help only (the subcommand validates with its own words). */
  choicesText?: readonly string[];
  /** The YAML configuration may set it (same key as the flag). */
  yaml?: boolean;
  /** YAML zero values (0, "", []) count, instead of meaning "unset" (upstream pointer fields). */
  yamlZeroMeaningful?: boolean;
  /** What replaces it; the option stays listed, --help shows `deprecated: <this>`. */
  deprecated?: string;
  /** Accepted and hidden; reported by `givenNoEffect` for the start-up warning. */
  noEffect?: boolean;
  /** Hidden from --help (documented in docs/configuration.md). */
  hidden?: boolean;
  /** Also accept `--no-<name>`. */
  negatable?: boolean;
  /** Option names that may not be given together with this one. */
  conflicts?: readonly string[];
}

/** commander's attribute name for a flag (`vllm-port` → `vllmPort`). */
export function attributeName(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, char: string) => char.toUpperCase());
}

function placeholder(spec: OptionSpec): string {
  if (spec.kind === 'bool') return '[bool]';
  if (spec.placeholder) return spec.placeholder;
  return spec.kind === 'list' ? '<list>' : '<value>';
}

function parserFor(spec: OptionSpec): ((value: string, previous: unknown) => unknown) | undefined {
  if (spec.parse) return spec.parse;
  switch (spec.kind) {
    case 'int': return intArg;
    case 'bool': return boolArg;
    case 'list': return (value, previous) => listArg(value, previous as string[] | undefined);
    case 'duration': return durationArg;
    case 'string': return undefined;
  }
}

/** The commander options of one row (two with `negatable`). */
export function commanderOptions(spec: OptionSpec): Option[] {
  const flags = `${spec.short ? `-${spec.short}, ` : ''}--${spec.name} ${placeholder(spec)}`;
  const description = spec.noEffect ? 'accepted for compatibility; no effect' : spec.deprecated ? `deprecated: ${spec.deprecated}` : spec.help;
  const option = new Option(flags, description);
  if (spec.env) option.env(spec.env);
  const parse = parserFor(spec);
  if (parse) option.argParser(parse);
  if (spec.choices) option.choices(spec.choices);
  if (spec.conflicts) option.conflicts(spec.conflicts.map(attributeName));
  if (spec.default !== undefined) {
    const value = spec.kind === 'duration' ? durationArg(String(spec.default)) : spec.default;
    option.default(value, spec.kind === 'duration' ? String(spec.default) : spec.defaultText);
  } else if (spec.defaultText !== undefined) {
    option.defaultValueDescription = spec.defaultText;
  }
  if (spec.choicesText) CHOICES_TEXT.set(option, spec.choicesText);
  if (spec.noEffect || spec.hidden) option.hideHelp();
  const options = [option];
  if (spec.negatable) options.push(new Option(`--no-${spec.name}`, `negation of --${spec.name}`));
  return options;
}

const CHOICES_TEXT = new WeakMap<Option, readonly string[]>();

/** One line per option: `description (choices: …; default: …; env: …)`, the same in every subcommand. */
function describeOption(option: Option): string {
  const notes: string[] = [];
  const choices = option.argChoices ?? CHOICES_TEXT.get(option);
  if (choices) notes.push(`choices: ${choices.map((choice) => (choice === '' ? '""' : choice)).join(', ')}`);
  const shownDefault = option.defaultValueDescription ?? (option.defaultValue === undefined ? undefined : JSON.stringify(option.defaultValue));
  if (shownDefault !== undefined && !option.negate) notes.push(`default: ${shownDefault}`);
  if (option.envVar) notes.push(`env: ${option.envVar}`);
  return notes.length > 0 ? `${option.description} (${notes.join('; ')})` : option.description;
}

/** Wraps like commander, but never between `env:` / `default:` and the value (grep-able help). */
const GLUE = '\u0000';
function boxWrap(this: Help, text: string, width: number): string {
  const glued = text.replace(/\b(env|default): /g, `$1:${GLUE}`);
  return Help.prototype.boxWrap.call(this, glued, width).replaceAll(GLUE, ' ');
}

const HELP_SETTINGS: Partial<Help> = {
  sortSubcommands: false,
  sortOptions: false,
  showGlobalOptions: false,
  helpWidth: 110,
  optionDescription: describeOption,
  boxWrap,
};

/** The help layout every subcommand uses (set on the program and on each declared command). */
export function helpLayout(command: Command): Command {
  return command.configureHelp(HELP_SETTINGS).showHelpAfterError('(run with --help for the flags)');
}

/** Adds every row of the table to the command, with the shared help layout. */
export function declareOptions(command: Command, specs: readonly OptionSpec[]): Command {
  helpLayout(command);
  for (const spec of specs) for (const option of commanderOptions(spec)) command.addOption(option);
  return command;
}

export type ValueSource = 'cli' | 'env' | 'default' | undefined;

export interface OptionValues {
  /** The parsed value of a flag (by its name, not its attribute). */
  get<T>(name: string): T;
  source(name: string): ValueSource;
  /** Every value by attribute name (commander's `opts()`), e.g. for the log flags. */
  readonly raw: Record<string, unknown>;
}

export function optionValues(command: Command): OptionValues {
  const raw = { ...command.opts() } as Record<string, unknown>;
  return {
    raw,
    get: <T>(name: string): T => raw[attributeName(name)] as T,
    source: (name) => command.getOptionValueSource(attributeName(name)) as ValueSource,
  };
}

/** The no-effect flags the user set (command line or env var), as `--name`, in table order. */
export function givenNoEffect(command: Command, specs: readonly OptionSpec[]): string[] {
  return specs.filter((spec) => {
    const source = command.getOptionValueSource(attributeName(spec.name));
    return spec.noEffect && (source === 'cli' || source === 'env');
  }).map((spec) => `--${spec.name}`);
}

/** A YAML value checked against the row's kind; durations come back in ms. Throws ConfigError at `path`. */
export function yamlValue(spec: OptionSpec, value: unknown, path: ConfigPath = [spec.name]): number | string | boolean | string[] {
  const fail = (expected: string): never => {
    throw new ConfigError(path, `expected ${expected}, got ${JSON.stringify(value)}`, { code: 'type' });
  };
  switch (spec.kind) {
    case 'int':
      return typeof value === 'number' && Number.isInteger(value) ? value : fail('an integer');
    case 'bool':
      return typeof value === 'boolean' ? value : fail('a boolean');
    case 'string':
      return typeof value === 'string' ? value : fail('a string');
    case 'list':
      if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value.map((item) => item.trim()).filter(Boolean);
      if (typeof value === 'string') return value.split(',').map((item) => item.trim()).filter(Boolean);
      return fail('a list of strings');
    case 'duration':
      if (typeof value !== 'string') return fail('a duration string such as "250ms"');
      try {
        return parseDuration(value);
      } catch (err) {
        return fail(`a duration (${(err as Error).message})`);
      }
  }
}

/** A parsed YAML document that must be a mapping (empty → {}); anything else is a ConfigError. */
export function yamlMapping(document: unknown): Record<string, unknown> {
  if (document === null || document === undefined) return {};
  if (typeof document !== 'object' || Array.isArray(document)) throw new ConfigError([], 'expected a mapping of flag names to values', { code: 'not-a-mapping' });
  return document as Record<string, unknown>;
}

/** Zero values that upstream's YAML decoding treats as unset. */
export function isYamlZero(value: unknown): boolean {
  return value === 0 || value === '' || (Array.isArray(value) && value.length === 0);
}
