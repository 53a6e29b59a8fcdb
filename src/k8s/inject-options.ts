/**
 * `pd-router inject [-f file|-] …`: prints the manifests with the P/D sidecar added to decode
 * pods (stdout), and what it did or skipped (stderr) — `kubectl apply -f <(pd-router inject -f x)`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { declareOptions, type OptionSpec } from '../cli/options.js';
import { DEFAULT_INJECT_OPTIONS, injectManifests, type InjectOptions } from './inject.js';
import { parsePoolGroup } from './pool-spec.js';

const d = DEFAULT_INJECT_OPTIONS;
const env = (name: string): string => `INJECT_${name.toUpperCase().replaceAll('-', '_')}`;

export const INJECT_OPTIONS: readonly OptionSpec[] = [
  { name: 'filename', short: 'f', kind: 'string', placeholder: '<file>', help: 'manifest file, or - for stdin', env: env('filename'), default: '-' },
  { name: 'output', short: 'o', kind: 'string', placeholder: '<file>', help: 'write here instead of stdout', env: env('output') },
  { name: 'pool', kind: 'string', placeholder: '<[namespace/]name>', help: 'InferencePool for the sidecar SSRF allowlist (namespace defaults to the pod\'s)', env: env('pool') },
  { name: 'pool-group', kind: 'string', placeholder: '<group>', help: 'API group of the InferencePool', env: env('pool-group'), default: d.poolGroup },
  { name: 'ssrf-protection', kind: 'bool', help: 'sidecar only calls prefill pods of the pool (needs --pool and RBAC to list/watch pods and inferencepools)', env: env('ssrf-protection'), default: d.ssrfProtection },
  { name: 'image', kind: 'string', placeholder: '<image>', help: 'pd-router image of the sidecar', env: env('image'), default: d.image },
  { name: 'connector', kind: 'string', placeholder: '<name>', help: 'KV connector: nixlv2 | shared-storage | sglang', env: env('connector'), default: d.connector },
  { name: 'vllm-port', kind: 'int', placeholder: '<port>', help: 'port vLLM moves to (the sidecar takes its old port)', env: env('vllm-port'), default: d.vllmPort },
  { name: 'secure-proxy', kind: 'bool', help: 'the sidecar serves HTTPS (probes follow)', env: env('secure-proxy'), default: d.secureProxy },
  { name: 'otlp-endpoint', kind: 'string', placeholder: '<url>', help: 'OTLP collector for the sidecar traces, e.g. http://jaeger-collector.observability:4317', env: env('otlp-endpoint') },
  { name: 'trace-sampler-arg', kind: 'string', placeholder: '<ratio>', help: 'sampling ratio for requests that arrive without a trace', env: env('trace-sampler-arg'), default: d.samplerArg },
  { name: 'sidecar-arg', kind: 'list', placeholder: '<arg>', help: 'extra sidecar argument (repeatable, comma-separated)', env: env('sidecar-arg') },
  { name: 'all', kind: 'bool', help: 'also inject into vLLM pod templates without a decode role label (never into prefill/encode pods)', env: env('all'), default: d.all },
];

export function addInjectCommand(program: Command): void {
  const command = program
    .command('inject')
    .description('Add the P/D sidecar to decode pods in Kubernetes YAML (Deployment, StatefulSet, LeaderWorkerSet, Pod …), like istioctl kube-inject');
  declareOptions(command, INJECT_OPTIONS)
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
