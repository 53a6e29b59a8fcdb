/**
 * `pd-router inject [-f file|-] …`: prints the manifests with the P/D sidecar added to decode
 * pods (stdout), and what it did or skipped (stderr) — `kubectl apply -f <(pd-router inject -f x)`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { boolOption, intArg, listArg, option } from '../flags.js';
import { DEFAULT_INJECT_OPTIONS, injectManifests, type InjectOptions } from './inject.js';
import { parsePoolGroup } from './pool-spec.js';

export function addInjectCommand(program: Command): void {
  const d = DEFAULT_INJECT_OPTIONS;
  program
    .command('inject')
    .description('Add the P/D sidecar to decode pods in Kubernetes YAML (Deployment, StatefulSet, LeaderWorkerSet, Pod …), like istioctl kube-inject')
    .addOption(option('-f, --filename <file>', 'manifest file, or - for stdin', 'INJECT_FILENAME').default('-'))
    .addOption(option('-o, --output <file>', 'write here instead of stdout', 'INJECT_OUTPUT'))
    .addOption(option('--pool <[namespace/]name>', 'InferencePool for the sidecar SSRF allowlist (namespace defaults to the pod\'s)', 'INJECT_POOL'))
    .addOption(option('--pool-group <group>', 'API group of the InferencePool', 'INJECT_POOL_GROUP').default(d.poolGroup))
    .addOption(boolOption('--ssrf-protection', 'sidecar only calls prefill pods of the pool (needs --pool and RBAC to list/watch pods and inferencepools)', 'INJECT_SSRF_PROTECTION', d.ssrfProtection))
    .addOption(option('--image <image>', 'pd-router image of the sidecar', 'INJECT_IMAGE').default(d.image))
    .addOption(option('--connector <name>', 'KV connector: nixlv2 | shared-storage | sglang', 'INJECT_CONNECTOR').default(d.connector))
    .addOption(option('--vllm-port <port>', 'port vLLM moves to (the sidecar takes its old port)', 'INJECT_VLLM_PORT').argParser(intArg).default(d.vllmPort))
    .addOption(boolOption('--secure-proxy', 'the sidecar serves HTTPS (probes follow)', 'INJECT_SECURE_PROXY', d.secureProxy))
    .addOption(option('--otlp-endpoint <url>', 'OTLP collector for the sidecar traces, e.g. http://jaeger-collector.observability:4317', 'INJECT_OTLP_ENDPOINT'))
    .addOption(option('--trace-sampler-arg <ratio>', 'sampling ratio for requests that arrive without a trace', 'INJECT_TRACE_SAMPLER_ARG').default(d.samplerArg))
    .addOption(option('--sidecar-arg <arg>', 'extra sidecar argument (repeatable, comma-separated)', 'INJECT_SIDECAR_ARG').argParser(listArg))
    .addOption(boolOption('--all', 'also inject into vLLM pod templates without a decode role label (never into prefill/encode pods)', 'INJECT_ALL', d.all))
    .action((opts: Record<string, unknown>) => {
      const options: InjectOptions = {
        ...d,
        image: opts.image as string,
        pool: (opts.pool as string | undefined) || undefined,
        poolGroup: parsePoolGroup(opts.poolGroup as string),
        ssrfProtection: opts.ssrfProtection as boolean,
        connector: opts.connector as string,
        vllmPort: opts.vllmPort as number,
        secureProxy: opts.secureProxy as boolean,
        otlpEndpoint: (opts.otlpEndpoint as string | undefined) || undefined,
        samplerArg: opts.traceSamplerArg as string,
        extraArgs: (opts.sidecarArg as string[] | undefined) ?? [],
        all: opts.all as boolean,
      };
      if (options.ssrfProtection && !options.pool) {
        throw new Error('--pool [namespace/]name is required for the sidecar SSRF allowlist (or pass --ssrf-protection=false)');
      }
      const file = opts.filename as string;
      const input = readFileSync(file === '-' ? 0 : file, 'utf8');
      const result = injectManifests(input, options);
      for (const note of result.notes) process.stderr.write(`pd-router inject: ${note}\n`);
      if (result.injected.length > 0) {
        process.stderr.write(`pd-router inject: sidecar added to ${result.injected.join(', ')}\n`);
        if (options.ssrfProtection) process.stderr.write('pd-router inject: their service account needs get/list/watch on pods and inferencepools (docs/kubernetes.md)\n');
      }
      if (opts.output) writeFileSync(opts.output as string, result.yaml);
      else process.stdout.write(result.yaml);
    });
}
