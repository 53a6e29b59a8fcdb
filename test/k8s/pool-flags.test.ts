/** The EPP's Kubernetes flags: names, env vars, defaults and the namespace fallback. */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addPoolFlags, poolDiscoveryConfig } from '../../src/k8s/pool-flags.js';

function parse(args: string[], env: Record<string, string> = {}): ReturnType<typeof poolDiscoveryConfig> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const command = addPoolFlags(new Command('epp').exitOverride().configureOutput({ writeErr: () => undefined }))
      .option('--endpoints <file>');
    command.parse(args, { from: 'user' });
    return poolDiscoveryConfig(command.opts(), { ...process.env });
  } finally {
    for (const key of Object.keys(env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

describe('addPoolFlags / poolDiscoveryConfig', () => {
  it('defaults: no pool, v1 group, namespace default, no leader election', () => {
    expect(parse([], { NAMESPACE: '', POD_NAMESPACE: '' })).toEqual({
      poolName: undefined, poolNamespace: 'default', poolGroup: 'inference.networking.k8s.io', kubeconfig: undefined,
      haEnableLeaderElection: false, modelServerMetricsPort: 0, endpointTargetPorts: [],
    });
  });

  it('upstream flag spellings', () => {
    expect(parse(['--pool-name', 'p', '--pool-namespace=llm', '--pool-group', 'inference.networking.x-k8s.io', '--kubeconfig', '/k', '--ha-enable-leader-election', '--model-server-metrics-port', '9100'])).toEqual({
      poolName: 'p', poolNamespace: 'llm', poolGroup: 'inference.networking.x-k8s.io', kubeconfig: '/k', haEnableLeaderElection: true, modelServerMetricsPort: 9100, endpointTargetPorts: [],
    });
    expect(parse(['--pool-name', 'p', '--ha-enable-leader-election=false']).haEnableLeaderElection).toBe(false);
  });

  it('namespace: flag, then NAMESPACE, then POD_NAMESPACE, then default', () => {
    expect(parse(['--pool-name', 'p'], { NAMESPACE: 'a', POD_NAMESPACE: 'b' }).poolNamespace).toBe('a');
    expect(parse(['--pool-name', 'p'], { NAMESPACE: '', POD_NAMESPACE: 'b' }).poolNamespace).toBe('b');
    expect(parse(['--pool-name', 'p', '--pool-namespace', 'c'], { NAMESPACE: 'a' }).poolNamespace).toBe('c');
    expect(parse(['--pool-name', 'p'], { POOL_NAME: 'env-pool' }).poolName).toBe('p');
    expect(parse([], { POOL_NAME: 'env-pool' }).poolName).toBe('env-pool');
  });

  it('rejects contradictions', () => {
    expect(() => parse(['--pool-name', 'p', '--endpoints', 'e.yaml'])).toThrow(/mutually exclusive/);
    expect(() => parse(['--ha-enable-leader-election'])).toThrow(/needs --pool-name/);
    expect(() => parse(['--pool-name', 'p', '--pool-group', 'example.com'])).toThrow(/--pool-group must be/);
  });
});
