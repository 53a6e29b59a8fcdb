/** `pd-router demo` flags as an option table (the process is in demo.ts, imported when the command runs). */
import type { Command } from 'commander';
import { declareOptions, optionValues, type OptionSpec } from './cli/options.js';

const int = (name: string, placeholder: string, help: string, value: number): OptionSpec =>
  ({ name, kind: 'int', placeholder, help, env: `DEMO_${name.toUpperCase().replaceAll('-', '_')}`, default: value });

export const DEMO_OPTIONS: readonly OptionSpec[] = [
  { name: 'model', kind: 'string', placeholder: '<name>', help: 'model name the sims serve', env: 'DEMO_MODEL', default: 'Qwen/Qwen3-0.6B' },
  int('gateway-port', '<port>', 'EPP HTTP gateway port (send requests here)', 8080),
  int('grpc-port', '<port>', 'EPP ext_proc port (plaintext in the demo)', 9002),
  int('metrics-port', '<port>', 'EPP Prometheus port', 9090),
  int('decode-pods', '<n>', 'decode sims (each with a sidecar)', 2),
  { name: 'smoke', kind: 'bool', help: 'send a short and a long request, report the routing, exit', env: 'DEMO_SMOKE', default: false },
];

export function addDemoCommand(program: Command): void {
  const command = program
    .command('demo')
    .description('Local P/D stack on loopback: 1 prefill sim, decode sims each behind a sidecar, and the EPP');
  declareOptions(command, DEMO_OPTIONS).action(async (_opts: unknown, self: Command) => {
    const { get } = optionValues(self);
    const { runDemo } = await import('./demo.js');
    await runDemo({
      model: get('model'),
      gatewayPort: get('gateway-port'),
      grpcPort: get('grpc-port'),
      metricsPort: get('metrics-port'),
      decodePods: get('decode-pods'),
      smoke: get('smoke'),
    });
  });
}
