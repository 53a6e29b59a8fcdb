/**
 * `--configuration` (inline YAML) / `--configuration-file`, as upstream: keys are the flag names,
 * parsing is strict (an unknown key or a wrongly typed value is an error), zero values are ignored,
 * and a value from YAML only applies where the flag was not given on the command line
 * (precedence: flag > YAML > env/default).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from '../src/duration.js';
import { FLAGS_BY_NAME, attributeName, type FlagSpec } from './flag-table.js';

export type YamlValue = number | string | boolean | string[];

const PREFIX = 'failed to unmarshal sidecar configuration';

/** Reads the YAML text named by the two flags; both at once is an error, neither gives undefined. */
export function readYamlSource(inline: string | undefined, file: string | undefined): string | undefined {
  if (inline && file) throw new Error('flags --configuration and --configuration-file are mutually exclusive');
  if (inline) return inline;
  if (!file) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`failed to read sidecar configuration from file: ${(err as Error).message}`);
  }
}

function convert(spec: FlagSpec, value: unknown): YamlValue {
  const fail = (expected: string): never => {
    throw new Error(`${PREFIX}: ${spec.name}: expected ${expected}, got ${JSON.stringify(value)}`);
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

/** Parses the YAML into typed values keyed by flag name. Throws on bad YAML, unknown keys, wrong types. */
export function parseYamlConfig(text: string): Map<string, YamlValue> {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (err) {
    throw new Error(`${PREFIX}: ${(err as Error).message}`);
  }
  const values = new Map<string, YamlValue>();
  if (document === null || document === undefined) return values;
  if (typeof document !== 'object' || Array.isArray(document)) throw new Error(`${PREFIX}: expected a mapping of flag names to values`);
  for (const [key, raw] of Object.entries(document)) {
    const spec = FLAGS_BY_NAME.get(key);
    if (!spec || !spec.yaml) throw new Error(`${PREFIX}: unknown field "${key}"`);
    if (raw === null || raw === undefined) continue;
    values.set(key, convert(spec, raw));
  }
  return values;
}

function isZero(value: YamlValue): boolean {
  return value === 0 || value === '' || (Array.isArray(value) && value.length === 0);
}

/**
 * Upstream applies the deprecated TLS booleans from YAML only when neither the deprecated flag nor
 * its list replacement was given on the command line.
 */
const ALSO_BLOCKED_BY: Record<string, string> = {
  'prefiller-use-tls': 'enable-tls',
  'decoder-use-tls': 'enable-tls',
  'prefiller-tls-insecure-skip-verify': 'tls-insecure-skip-verify',
  'decoder-tls-insecure-skip-verify': 'tls-insecure-skip-verify',
};

/**
 * Writes YAML values into commander's option values (attribute names) where the command line did
 * not set the flag. Returns the flag names that YAML set, for precedence decisions later.
 */
export function mergeYamlConfig(
  values: Record<string, unknown>,
  yaml: Map<string, YamlValue>,
  fromCli: (flagName: string) => boolean,
): Set<string> {
  const applied = new Set<string>();
  for (const [name, value] of yaml) {
    const spec = FLAGS_BY_NAME.get(name)!;
    if (isZero(value) && !spec.yamlZeroMeaningful) continue;
    if (fromCli(name)) continue;
    const blocker = ALSO_BLOCKED_BY[name];
    if (blocker && fromCli(blocker)) continue;
    values[attributeName(name)] = value;
    applied.add(name);
  }
  return applied;
}
