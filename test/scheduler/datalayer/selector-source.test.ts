/**
 * Pool-less discovery (llm-d's `--endpoint-selector` / `--endpoint-target-ports`): the flags'
 * checks, then the selected pods as endpoints through a real API server (test/helpers) and the
 * real Kubernetes client — without any InferencePool object.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { startKubernetesDiscovery, type KubernetesDiscovery } from '../../../scheduler/datalayer/pool-source.js';
import { EndpointStore } from '../../../scheduler/datalayer/store.js';
import { startEpp, type RunningEpp } from '../../../scheduler/main.js';
import { buildEppCommand, eppConfigFromCommand } from '../../../scheduler/options.js';
import { poolDiscoveryConfig } from '../../../src/k8s/pool-flags.js';
import { checkLabelSelector } from '../../../src/k8s/label-selector.js';
import { TEST_BACKOFF, pod, silentLogger, useFakeKubeApi, waitFor } from '../../k8s/fixtures.js';

describe('--endpoint-selector / --endpoint-target-ports checks', () => {
  const config = (opts: Record<string, unknown>) => poolDiscoveryConfig({ poolNamespace: 'llm', ...opts }, {});

  it('a selector with 1 to 8 ports (duplicates dropped) configures pool-less discovery', () => {
    expect(config({ endpointSelector: ' app=vllm,env in (prod, staging) ', endpointTargetPorts: ['8000', '8001', '8000'] }))
      .toMatchObject({ poolName: undefined, endpointSelector: 'app=vllm,env in (prod, staging)', endpointTargetPorts: [8000, 8001] });
    expect(config({}).endpointSelector).toBeUndefined();
  });

  it('refuses what upstream refuses, naming the flag', () => {
    expect(() => config({ endpointSelector: 'app=x', endpointTargetPorts: ['8000'], poolName: 'p' })).toThrow('--endpoint-selector and --pool-name are mutually exclusive');
    expect(() => config({ endpointSelector: 'app=x' })).toThrow('--endpoint-target-ports should have length from 1 to 8');
    expect(() => config({ endpointSelector: 'app=x', endpointTargetPorts: ['1', '2', '3', '4', '5', '6', '7', '8', '9'] })).toThrow('should have length from 1 to 8');
    expect(() => config({ endpointSelector: 'app=x', endpointTargetPorts: ['80', 'http'] })).toThrow('--endpoint-target-ports invalid port number in "80,http"');
    expect(() => config({ endpointSelector: 'app=x', endpointTargetPorts: ['70000'] })).toThrow('invalid port number');
    expect(() => config({ endpointTargetPorts: ['8000'] })).toThrow('--endpoint-target-ports needs --endpoint-selector');
    expect(() => config({ endpointSelector: 'app=x', endpointTargetPorts: ['8000'], endpoints: 'eps.yaml' })).toThrow('--endpoint-selector and --endpoints are mutually exclusive');
    expect(() => config({ endpointSelector: 'app=x,', endpointTargetPorts: ['8000'] })).toThrow('--endpoint-selector "app=x," is not a label selector: bad term ""');
  });

  it('label selector syntax: equality, set-based and existence terms', () => {
    for (const ok of ['app=vllm', 'app==vllm,tier!=frontend', 'env in (prod,staging),tier notin (x)', 'key,!deprecated', 'app.kubernetes.io/name=vllm', 'gpu>1']) {
      expect(checkLabelSelector(ok)).toBe(ok);
    }
    for (const bad of ['=vllm', 'app=vllm,', 'env in (prod', 'a b', 'app=has space']) expect(() => checkLabelSelector(bad)).toThrow('is not a label selector');
  });
});

describe('pool-less discovery against a real API server', () => {
  const kube = useFakeKubeApi();
  const owned: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const item of owned.splice(0)) await item.close();
  });

  it('the selected pods of the namespace become endpoints per target port, following readiness and new pods', async () => {
    kube.api.apply(pod({ name: 'sel-0', ip: '127.0.0.2', labels: { app: 'sel', 'llm-d.ai/role': 'decode' } }));
    kube.api.apply(pod({ name: 'sel-cache', ip: '127.0.0.3', labels: { app: 'sel', tier: 'cache' } }));
    kube.api.apply(pod({ name: 'other', ip: '127.0.0.4', labels: { app: 'other' } }));
    kube.api.apply(pod({ name: 'sel-elsewhere', ip: '127.0.0.5', labels: { app: 'sel' }, namespace: 'elsewhere' }));
    const store = new EndpointStore();
    const config = poolDiscoveryConfig({ poolNamespace: 'llm', kubeconfig: kube.kubeconfig, endpointSelector: 'app=sel,tier!=cache', endpointTargetPorts: ['8000', '8001'] }, {});
    const discovery: KubernetesDiscovery = await startKubernetesDiscovery({ config, store, logger: silentLogger, backoff: TEST_BACKOFF });
    owned.push(discovery);
    const names = (): string => store.list().map((e) => `${e.name}@${e.hostPort}`).sort().join(',');

    await waitFor('selected pod discovered', () => names() === 'sel-0-rank-0@127.0.0.2:8000,sel-0-rank-1@127.0.0.2:8001');
    expect(discovery.isServing()).toBe(true);
    expect(store.get('sel-0-rank-0')?.labels['llm-d.ai/role']).toBe('decode');
    expect(kube.api.requests.some((request) => request.includes('/api/v1/namespaces/llm/pods') && request.includes('labelSelector=app%3Dsel%2Ctier%21%3Dcache'))).toBe(true);
    expect(kube.api.requests.some((request) => request.includes('inferencepools'))).toBe(false);

    kube.api.apply(pod({ name: 'sel-1', ip: '127.0.0.6', labels: { app: 'sel' } }));
    await waitFor('new pod joins', () => names().includes('sel-1-rank-1@127.0.0.6:8001'));
    kube.api.apply(pod({ name: 'sel-0', ip: '127.0.0.2', labels: { app: 'sel' }, ready: false }));
    await waitFor('NotReady pod leaves', () => names() === 'sel-1-rank-0@127.0.0.6:8000,sel-1-rank-1@127.0.0.6:8001');
  });

  it('`pd-router epp --endpoint-selector … --endpoint-target-ports …` discovers through the same path', async () => {
    kube.api.apply(pod({ name: 'flagged-0', ip: '127.0.0.7', labels: { app: 'flagged' } }));
    const command: Command = buildEppCommand().exitOverride();
    command.parse(['--endpoint-selector', 'app=flagged', '--endpoint-target-ports', '8200', '--pool-namespace', 'llm', '--kubeconfig', kube.kubeconfig], { from: 'user' });
    const epp: RunningEpp = await startEpp({ ...eppConfigFromCommand(command), host: '127.0.0.1', gatewayPort: -1, grpcPort: -1, grpcHealthPort: -1, metricsPort: -1 }, silentLogger);
    owned.push(epp);
    await waitFor('discovered by the EPP', () => epp.store.list().map((e) => e.hostPort).join(',') === '127.0.0.7:8200');
  });
});
