#!/usr/bin/env node
/**
 * `pd-router <sim|sidecar|epp|demo>`. Each subcommand's flags are declared by a light options
 * module; the process itself is imported only when that subcommand runs.
 */
import { Command } from 'commander';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export async function main(argv: string[]): Promise<void> {
  const program = new Command('pd-router')
    .description('Prefill/decode-disaggregated LLM inference routing for vLLM')
    .version(pkg.version)
    .showHelpAfterError()
    .enablePositionalOptions();

  const { addSimCommand } = await import('./sim/options.js');
  addSimCommand(program);
  const { addSidecarCommand } = await import('../sidecar/options.js');
  addSidecarCommand(program);
  const { addEppCommand } = await import('../scheduler/options.js');
  addEppCommand(program);
  const { addDemoCommand } = await import('./demo-options.js');
  addDemoCommand(program);
  const { addInjectCommand } = await import('./k8s/inject-options.js');
  addInjectCommand(program);

  await program.parseAsync(argv);
}

main(process.argv).catch((err: unknown) => {
  process.stderr.write(`pd-router: ${err instanceof Error ? (process.env.PD_ROUTER_DEBUG ? err.stack : err.message) : String(err)}\n`);
  process.exit(1);
});
