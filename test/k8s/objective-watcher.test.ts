/**
 * InferenceObjective priorities from Kubernetes: ObjectiveWatcher against the small real API
 * server (pool filtering, defaults, updates, deletes, missing RBAC), and an EPP started with
 * --pool-name whose flow control puts a request in its objective's band.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadKubeConfig } from '../../src/k8s/kubeconfig.js';
import { ObjectiveWatcher, parseObjective } from '../../src/k8s/objective-watcher.js';
import { poolDiscoveryConfig } from '../../src/k8s/pool-flags.js';
import { OBJECTIVE_HEADERS } from '../../src/wire/headers.js';
import { startEpp } from '../../scheduler/main.js';
import type { KubeObject } from '../helpers/fake-kube-apiserver.js';
import { startCli } from '../helpers/processes.js';
import { metricValue } from '../e2e/stack.js';
import { TEST_BACKOFF, pod, poolV1, silentLogger, useFakeKubeApi, waitFor } from './fixtures.js';

const kube = useFakeKubeApi();
const watchers: ObjectiveWatcher[] = [];
afterEach(() => {
  for (const watcher of watchers.splice(0)) watcher.close();
});

const POOL = { name: 'qwen', group: 'inference.networking.k8s.io' };

function objective(name: string, spec: Record<string, unknown>, namespace = 'llm'): KubeObject {
  return { apiVersion: 'llm-d.ai/v1alpha2', kind: 'InferenceObjective', metadata: { name, namespace }, spec };
}

function watch(namespace = 'llm'): ObjectiveWatcher {
  const watcher = new ObjectiveWatcher({ kubeConfig: loadKubeConfig({ kubeconfig: kube.kubeconfig }), namespace, pool: POOL, logger: silentLogger, backoff: TEST_BACKOFF });
  watchers.push(watcher);
  watcher.start();
  return watcher;
}

describe('parseObjective', () => {
  it('belongs to the pool by poolRef name and group (default inference.networking.k8s.io); priority is an int32', () => {
    expect(parseObjective(objective('a', { priority: 5, poolRef: { name: 'qwen' } }), POOL)).toEqual({ name: 'a', priority: 5 });
    expect(parseObjective(objective('a', { poolRef: { name: 'qwen', group: 'inference.networking.k8s.io' } }), POOL)).toEqual({ name: 'a', priority: undefined });
    expect(parseObjective(objective('a', { priority: -3, poolRef: { name: 'qwen', group: 'inference.networking.x-k8s.io' } }), POOL)).toBeUndefined();
    expect(parseObjective(objective('a', { priority: 1, poolRef: { name: 'other' } }), POOL)).toBeUndefined();
    expect(parseObjective(objective('a', { priority: 1.5, poolRef: { name: 'qwen' } }), POOL)).toEqual({ name: 'a', priority: undefined, invalidPriority: 1.5 });
    expect(parseObjective(objective('a', { priority: 2 ** 31, poolRef: { name: 'qwen' } }), POOL)).toMatchObject({ priority: undefined });
    expect(parseObjective({ spec: {} }, POOL)).toBeUndefined();
  });
});

describe('ObjectiveWatcher', () => {
  it('keeps the priorities of the pool\'s objectives in its namespace and follows changes', async () => {
    kube.api.apply(objective('critical', { priority: 10, poolRef: { name: 'qwen' } }));
    kube.api.apply(objective('plain', { poolRef: { name: 'qwen' } }));
    kube.api.apply(objective('elsewhere', { priority: 7, poolRef: { name: 'other-pool' } }));
    kube.api.apply(objective('other-ns', { priority: 3, poolRef: { name: 'qwen' } }, 'default'));
    const watcher = watch();
    await waitFor('listed', () => watcher.synced);
    expect(watcher.names()).toEqual(['critical', 'plain']);
    expect(watcher.priority('critical')).toBe(10);
    expect(watcher.priority('plain')).toBe(0);
    expect(watcher.priority('elsewhere')).toBeUndefined();
    expect(watcher.priority('other-ns')).toBeUndefined();

    kube.api.apply(objective('sheddable', { priority: -1, poolRef: { name: 'qwen' } }));
    await waitFor('added', () => watcher.priority('sheddable') === -1);
    kube.api.apply(objective('critical', { priority: 20, poolRef: { name: 'qwen' } }));
    await waitFor('updated', () => watcher.priority('critical') === 20);
    kube.api.apply(objective('plain', { priority: 1, poolRef: { name: 'other-pool' } }));
    await waitFor('moved to another pool', () => watcher.priority('plain') === undefined);
    kube.api.remove('llm-d.ai/v1alpha2', 'InferenceObjective', 'llm', 'critical');
    await waitFor('deleted', () => watcher.priority('critical') === undefined);
  });

  it('without RBAC: no priorities, retried until allowed', async () => {
    kube.api.apply(objective('late', { priority: 4, poolRef: { name: 'qwen' } }, 'rbac'));
    kube.api.forbid('inferenceobjectives');
    try {
      const watcher = watch('rbac');
      await waitFor('a refused list', () => kube.api.requests.some((r) => r.includes('/namespaces/rbac/inferenceobjectives')));
      expect(watcher.synced).toBe(false);
      expect(watcher.priority('late')).toBeUndefined();
      kube.api.forbid('inferenceobjectives', false);
      await waitFor('listed once allowed', () => watcher.priority('late') === 4);
    } finally {
      kube.api.forbid('inferenceobjectives', false);
    }
  });
});

describe('EPP with --pool-name', () => {
  it('puts a request in the band of the InferenceObjective its header names', async () => {
    const sim = await startCli(['sim', '--port', '0', '--host', '127.0.0.1', '--model', 'm']);
    kube.api.apply(poolV1('qwen', { app: 'fc' }, [sim.port], 'fc'));
    kube.api.apply(pod({ name: 'fc-0', ip: '127.0.0.1', labels: { app: 'fc' }, namespace: 'fc' }));
    kube.api.apply(objective('critical', { priority: 10, poolRef: { name: 'qwen' } }, 'fc'));
    const epp = await startEpp({
      configText: 'apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\nfeatureGates: [flowControl]\n',
      pool: poolDiscoveryConfig({ poolName: 'qwen', poolNamespace: 'fc', kubeconfig: kube.kubeconfig }),
      host: '127.0.0.1', gatewayPort: 0, grpcPort: -1, grpcHealthPort: -1, metricsPort: 0, secureServing: false,
    }, silentLogger);
    try {
      await waitFor('pool discovered', () => epp.store.list().length === 1);
      const metricsUrl = `http://127.0.0.1:${epp.ports.metrics}/metrics`;
      const send = async (): Promise<number> => {
        const response = await fetch(`${epp.gatewayUrl}/v1/chat/completions`, {
          method: 'POST', headers: { 'content-type': 'application/json', [OBJECTIVE_HEADERS[0]!]: 'critical' },
          body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }),
        });
        await response.arrayBuffer();
        return response.status;
      };
      // The objective watch lists asynchronously: send until the request lands in band 10.
      await waitFor('a request in band 10', async () => {
        expect(await send()).toBe(200);
        return await metricValue(metricsUrl, 'llm_d_epp_flow_control_requests_total', { outcome: 'Dispatched', priority: '10' }) >= 1;
      });
      expect(await metricValue(metricsUrl, 'inference_objective_request_total', { priority: '10' })).toBeGreaterThanOrEqual(1);
    } finally {
      await epp.close();
      await sim.stop();
    }
  });
});
