/**
 * `pd-router sim` flags, generated from the settings table (config-fields.ts) as option rows
 * (src/cli/options.ts): every flag has an
 * env var shown by --help, and the same key in the `--config` YAML. The simulator itself
 * (main.ts) is imported only when the command runs.
 */
import type { Command } from 'commander';
import { declareOptions, type OptionSpec } from '../cli/options.js';
import { CONFIG_FIELDS, envName, type ConfigField } from './config-fields.js';

/** A settings-table row as an option row: values stay raw text; config-sources.ts coerces them. */
function optionFor(field: ConfigField): OptionSpec {
  return {
    name: field.flag,
    kind: field.kind === 'bool' ? 'bool' : 'string',
    help: field.description,
    env: envName(field),
    placeholder: field.placeholder,
    defaultText: field.defaultText,
    choicesText: field.choices,
    negatable: field.negatable,
  };
}

export const SIM_OPTIONS: readonly OptionSpec[] = [
  { name: 'config', kind: 'string', placeholder: '<file>', help: 'YAML file with the same keys as the flags (flag > env > file > default)', env: 'SIM_CONFIG' },
  ...CONFIG_FIELDS.map(optionFor),
];

export function addSimCommand(program: Command): void {
  const command = program
    .command('sim')
    .description('vLLM simulator: OpenAI API, P/D kv_transfer_params, latency, prefix-cache and metrics model');
  declareOptions(command, SIM_OPTIONS).action(async (values: Record<string, unknown>, cmd: Command) => {
    const { resolveConfig } = await import('./config-sources.js');
    const { config, warnings } = resolveConfig({
      values,
      source: (attribute) => cmd.getOptionValueSource(attribute) as ReturnType<Parameters<typeof resolveConfig>[0]['source']>,
      configFile: values.config as string | undefined,
    });
    const { runSim } = await import('./main.js');
    await runSim(config, { warnings });
  });
}
