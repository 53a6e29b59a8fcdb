#!/usr/bin/env node
/**
 * `pd-router <sim|sidecar|epp|demo|inject>`: the one entry point, above `src/`, `scheduler/` and
 * `sidecar/`. Each subcommand's flags are one option table (src/cli/options.ts) in a light options module; the process itself
 * is imported only when that subcommand runs.
 *
 * The Node version is checked before anything else is imported: our dependencies (undici 8 among
 * them) fail at import time on older runtimes with an unrelated-looking TypeError. This file's
 * static imports are therefore limited to `node:` built-ins and ./node-check.js (Node 18+ syntax).
 */
import { readFileSync } from 'node:fs';
import { nodeTooOld, nodeVersionAdvice } from './node-check.js';


async function main(argv: string[]): Promise<void> {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const { Command } = await import('commander');
  const { helpLayout } = await import('../src/cli/options.js');
  const program = helpLayout(new Command('pd-router'))
    .description('Prefill/decode-disaggregated LLM inference routing for vLLM')
    .version(pkg.version)
    .showHelpAfterError()
    .enablePositionalOptions();

  const { addSimCommand } = await import('../src/sim/options.js');
  addSimCommand(program);
  const { addSidecarCommand } = await import('../sidecar/options.js');
  addSidecarCommand(program);
  const { addEppCommand } = await import('../scheduler/options.js');
  addEppCommand(program);
  const { addDemoCommand } = await import('../src/demo-options.js');
  addDemoCommand(program);
  const { addInjectCommand } = await import('../src/k8s/inject-options.js');
  addInjectCommand(program);

  await program.parseAsync(argv);
}

if (nodeTooOld(process.version)) {
  process.stderr.write(nodeVersionAdvice(process.version));
  process.exit(1);
}
main(process.argv).catch((err: unknown) => {
  process.stderr.write(`pd-router: ${err instanceof Error ? (process.env.PD_ROUTER_DEBUG ? err.stack : err.message) : String(err)}\n`);
  process.exit(1);
});
