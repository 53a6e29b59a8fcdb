/**
 * `--configuration` (inline YAML) / `--configuration-file`, as upstream: keys are the flag names,
 * parsing is strict (an unknown key or a wrongly typed value is an error), zero values are ignored,
 * and a value from YAML only applies where the flag was not given on the command line
 * (precedence: flag > YAML > env/default).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { isYamlZero, yamlMapping, yamlValue } from '../src/cli/options.js';
import { asConfigError, ConfigError } from '../src/config-error.js';
import { FLAGS_BY_NAME, attributeName } from './flag-table.js';

export type YamlValue = number | string | boolean | string[];

const CONTEXT = 'failed to unmarshal sidecar configuration';

/** Reads the YAML text named by the two flags; both at once is an error, neither gives undefined. */
export function readYamlSource(inline: string | undefined, file: string | undefined): string | undefined {
  if (inline && file) throw new ConfigError([], 'flags --configuration and --configuration-file are mutually exclusive');
  if (inline) return inline;
  if (!file) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw asConfigError(err, { context: 'failed to read sidecar configuration from file' });
  }
}

/** Parses the YAML into typed values keyed by flag name. Throws ConfigError on bad YAML, unknown keys, wrong types. */
export function parseYamlConfig(text: string): Map<string, YamlValue> {
  const values = new Map<string, YamlValue>();
  try {
    for (const [key, raw] of Object.entries(yamlMapping(parseYaml(text)))) {
      const spec = FLAGS_BY_NAME.get(key);
      if (!spec || !spec.yaml) throw new ConfigError([], `unknown field "${key}"`, { code: 'unknown-key' });
      if (raw === null || raw === undefined) continue;
      values.set(key, yamlValue(spec, raw));
    }
  } catch (err) {
    throw asConfigError(err, { context: CONTEXT });
  }
  return values;
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
    if (isYamlZero(value) && !spec.yamlZeroMeaningful) continue;
    if (fromCli(name)) continue;
    const blocker = ALSO_BLOCKED_BY[name];
    if (blocker && fromCli(blocker)) continue;
    values[attributeName(name)] = value;
    applied.add(name);
  }
  return applied;
}
