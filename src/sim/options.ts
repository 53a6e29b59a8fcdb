/**
 * `pd-router sim` flags, generated from the settings table (config-fields.ts): every flag has an
 * env var shown by --help, and the same key in the `--config` YAML. The simulator itself
 * (main.ts) is imported only when the command runs.
 */
import { Command, Option } from 'commander';
import { boolArg } from '../flags.js';
import { CONFIG_FIELDS, envName, type ConfigField } from './config-fields.js';

function describe(field: ConfigField): string {
  const notes: string[] = [];
  if (field.choices) notes.push(`choices: ${field.choices.map((choice) => (choice === '' ? '""' : choice)).join(', ')}`);
  if (field.defaultText !== undefined) notes.push(`default: ${field.defaultText}`);
  return notes.length > 0 ? `${field.description} (${notes.join('; ')})` : field.description;
}

function optionFor(field: ConfigField): Option[] {
  const env = envName(field);
  if (field.kind === 'bool') {
    const options = [new Option(`--${field.flag} [bool]`, describe(field)).env(env).argParser(boolArg)];
    if (field.negatable) options.push(new Option(`--no-${field.flag}`, `negation of --${field.flag}`));
    return options;
  }
  return [new Option(`--${field.flag} ${field.placeholder ?? '<value>'}`, describe(field)).env(env)];
}

export function addSimCommand(program: Command): void {
  const command = program
    .command('sim')
    .description('vLLM simulator: OpenAI API, P/D kv_transfer_params, latency, prefix-cache and metrics model')
    .addOption(new Option('--config <file>', 'YAML file with the same keys as the flags (flag > env > file > default)').env('SIM_CONFIG'));
  for (const field of CONFIG_FIELDS) {
    for (const option of optionFor(field)) command.addOption(option);
  }
  command.action(async (values: Record<string, unknown>, cmd: Command) => {
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
