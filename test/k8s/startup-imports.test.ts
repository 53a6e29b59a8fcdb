/**
 * What each `pd-router` process loads before it does anything: `bin/pd-router.ts` imports every
 * subcommand's options module to parse the command line, so those must stay light, and the
 * sidecar — one per decode pod — must not carry packages it only needs on request (the
 * Kubernetes client for a pool allowlist, the OpenTelemetry SDK for tracing, selfsigned for a
 * generated certificate). Read statically: the closure of static, non-type imports from each
 * entry; dynamic `import()` is how heavy packages are deferred, so it is not followed.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const STATIC = /(?:^|[\s;}])(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/g;

/** Packages reached by static value imports from `entries`, each with the first file importing it. */
function staticPackages(entries: string[]): Map<string, string> {
  const seen = new Set<string>();
  const packages = new Map<string, string>();
  const todo = [...entries];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = readFileSync(join(ROOT, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
    for (const match of source.matchAll(STATIC)) {
      const specifier = match[2]!;
      if (match[1] || specifier.startsWith('node:')) continue;
      if (specifier.startsWith('.')) todo.push(relative(ROOT, resolve(ROOT, dirname(file), specifier)).replace(/\.js$/, '.ts'));
      else {
        const name = specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
        if (!packages.has(name)) packages.set(name, file);
      }
    }
  }
  return packages;
}

const OPTION_MODULES = ['src/sim/options.ts', 'sidecar/options.ts', 'scheduler/options.ts', 'src/demo-options.ts', 'src/k8s/inject-options.ts'];
const HEAVY = ['@kubernetes/client-node', '@grpc/grpc-js', '@grpc/proto-loader', '@opentelemetry/sdk-node', '@opentelemetry/sdk-trace-node', '@opentelemetry/exporter-trace-otlp-grpc', '@opentelemetry/exporter-trace-otlp-http', 'zeromq', 'ioredis', 'selfsigned', 'hono', '@huggingface/jinja'];

describe('start-up imports', () => {
  it('reads a real closure (positive control)', () => {
    const sidecar = staticPackages(['sidecar/main.ts']);
    expect(sidecar.has('undici')).toBe(true);
    expect(staticPackages(['src/k8s/kubeconfig.ts']).has('@kubernetes/client-node')).toBe(true);
  });

  it('every subcommand\'s options module (all loaded by bin/pd-router.ts) stays free of heavy packages', () => {
    const packages = staticPackages(OPTION_MODULES);
    expect(HEAVY.filter((name) => packages.has(name)).map((name) => `${name} via ${packages.get(name)}`)).toEqual([]);
  });

  it('the sidecar loads heavy packages only when a feature needs them', () => {
    const packages = staticPackages(['bin/pd-router.ts', ...OPTION_MODULES, 'sidecar/main.ts']);
    expect(HEAVY.filter((name) => packages.has(name)).map((name) => `${name} via ${packages.get(name)}`)).toEqual([]);
  });
});
