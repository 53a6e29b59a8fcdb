/** `pd-router demo` flags (the process is in demo.ts, imported when the command runs). */
import type { Command } from 'commander';
import { boolOption, intArg, option } from './flags.js';
import type { DemoConfig } from './demo-config.js';

export function addDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('Local P/D stack on loopback: 1 prefill sim, decode sims each behind a sidecar, and the EPP')
    .addOption(option('--model <name>', 'model name the sims serve', 'DEMO_MODEL').default('Qwen/Qwen3-0.6B'))
    .addOption(option('--gateway-port <port>', 'EPP HTTP gateway port (send requests here)', 'DEMO_GATEWAY_PORT').argParser(intArg).default(8080))
    .addOption(option('--grpc-port <port>', 'EPP ext_proc port (plaintext in the demo)', 'DEMO_GRPC_PORT').argParser(intArg).default(9002))
    .addOption(option('--metrics-port <port>', 'EPP Prometheus port', 'DEMO_METRICS_PORT').argParser(intArg).default(9090))
    .addOption(option('--decode-pods <n>', 'decode sims (each with a sidecar)', 'DEMO_DECODE_PODS').argParser(intArg).default(2))
    .addOption(boolOption('--smoke', 'send a short and a long request, report the routing, exit', 'DEMO_SMOKE', false))
    .action(async (opts: Record<string, unknown>) => {
      const { runDemo } = await import('./demo.js');
      await runDemo({
        model: opts.model as string,
        gatewayPort: opts.gatewayPort as number,
        grpcPort: opts.grpcPort as number,
        metricsPort: opts.metricsPort as number,
        decodePods: opts.decodePods as number,
        smoke: opts.smoke as boolean,
      });
    });
}
