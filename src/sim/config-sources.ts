/**
 * Where configuration values come from, and which wins:
 * flag > env (`SIM_*`, `SIM_MODEL`, `PYTHONHASHSEED`) > YAML from `--config` (same keys as the
 * flags) > default. Unknown YAML keys are ignored with a warning, as Go's YAML decoding does.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { asConfigError, ConfigError } from '../config-error.js';
import { completeConfig, type SimConfig, type SimConfigInput } from './config.js';
import { attributeName, CONFIG_FIELDS, coerceField } from './config-fields.js';
import { rejectStepOnly } from './step/settings-check.js';

/** commander's `getOptionValueSource` values. */
export type ValueSource = 'cli' | 'env' | 'default' | 'config' | 'implied' | undefined;

export interface ConfigSources {
  /** Option values by commander attribute name. */
  values: Record<string, unknown>;
  source(attribute: string): ValueSource;
  /** Path of the YAML file (`--config`). */
  configFile?: string;
  /** YAML text instead of a file (tests). */
  configText?: string;
  env?: Record<string, string | undefined>;
}

export interface ResolvedConfig {
  config: SimConfig;
  warnings: string[];
}

function readYaml(sources: ConfigSources): Record<string, unknown> {
  let text = sources.configText;
  if (text === undefined && sources.configFile) {
    try {
      text = readFileSync(sources.configFile, 'utf8');
    } catch (err) {
      throw asConfigError(err, { context: 'failed to read configuration file' });
    }
  }
  if (text === undefined || text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw asConfigError(err, { context: 'failed to unmarshal configuration' });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError([], 'expected a mapping of flag names to values', { context: 'failed to unmarshal configuration' });
  return parsed as Record<string, unknown>;
}

export function resolveConfig(sources: ConfigSources): ResolvedConfig {
  const env = sources.env ?? process.env;
  const yaml = readYaml(sources);
  const warnings: string[] = [];
  const known = new Set(CONFIG_FIELDS.map((field) => field.flag));
  for (const key of Object.keys(yaml)) {
    if (!known.has(key)) warnings.push(`configuration key '${key}' is not supported by this simulator and is ignored`);
  }

  const input: Record<string, unknown> = {};
  for (const field of CONFIG_FIELDS) {
    if (field.key === null) continue;
    const attribute = attributeName(field.flag);
    const source = sources.source(attribute);
    const value = sources.values[attribute];
    try {
      if ((source === 'cli' || source === 'env') && value !== undefined) {
        input[field.key] = coerceField(field, value, true);
      } else if (yaml[field.flag] !== undefined && yaml[field.flag] !== null) {
        input[field.key] = coerceField(field, yaml[field.flag]);
      }
    } catch (err) {
      throw asConfigError(err);
    }
  }
  input.podIp = env.POD_IP ?? '';
  input.podName = env.POD_NAME ?? '';
  input.podNamespace = env.POD_NAMESPACE ?? '';
  if (typeof input.model !== 'string' || input.model === '') throw new ConfigError([], 'model parameter is empty (use --model or SIM_MODEL)');
  if (input.engineModel !== 'step') rejectStepOnly(String(input.engineModel ?? 'latency'), input);
  return { config: completeConfig(input as SimConfigInput), warnings };
}
