/**
 * The Kubernetes endpoint source end to end: a real API server (test/helpers) → the real
 * @kubernetes/client-node → PoolWatcher → PoolSource → EndpointStore → Director, plus the pure
 * PoolState → endpoint mapping (ranks, active-ports, metrics port).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadEndpointPickerConfig } from '../../../scheduler/config/loader.js';
import { createPoolSource, endpointsFromPool, startKubernetesDiscovery, type PoolSource } from '../../../scheduler/datalayer/pool-source.js';
import { EndpointStore } from '../../../scheduler/datalayer/store.js';
import { Director, PREFILL_HEADER } from '../../../scheduler/framework/director.js';
import { SchedulingError } from '../../../scheduler/framework/errors.js';
import { createDefaultRegistry } from '../../../scheduler/plugins/index.js';
import type { PodInfo } from '../../../src/k8s/pool-spec.js';
import type { PoolState } from '../../../src/k8s/pool-watcher.js';
import { POOL_GROUP_V1, POOL_GROUP_V1ALPHA2 } from '../../../src/k8s/pool-spec.js';
import { poolDiscoveryConfig } from '../../../src/k8s/pool-flags.js';
import { TEST_BACKOFF, pod, poolV1, poolV1alpha2, silentLogger, waitFor, useFakeKubeApi } from '../../k8s/fixtures.js';
import { chatRequest } from '../helpers.js';

function podInfo(init: Partial<PodInfo> & { name: string }): PodInfo {
  return { namespace: 'llm', labels: {}, annotations: {}, ip: '10.0.0.1', ready: true, deleting: false, ...init };
}

function state(pods: PodInfo[], targetPorts: number[] = [8000]): PoolState {
  return { synced: true, pool: { namespace: 'llm', name: 'p', selector: { app: 'x' }, targetPorts, appProtocol: 'http' }, pods };
}

describe('endpointsFromPool', () => {
  it('one endpoint per ready pod with an IP, per target port, named <pod>-rank-<i>', () => {
    const specs = endpointsFromPool(state([
      podInfo({ name: 'b', ip: '10.0.0.2', labels: { 'llm-d.ai/role': 'decode' } }),
      podInfo({ name: 'a', ip: '10.0.0.1' }),
      podInfo({ name: 'not-ready', ready: false }),
      podInfo({ name: 'no-ip', ip: '' }),
      podInfo({ name: 'terminating', deleting: true }),
    ], [8000, 8001]));
    expect(specs.map((s) => `${s.name} ${s.address}:${s.port} ${s.metricsHost}`)).toEqual([
      'a-rank-0 10.0.0.1:8000 10.0.0.1:8000', 'a-rank-1 10.0.0.1:8001 10.0.0.1:8001',
      'b-rank-0 10.0.0.2:8000 10.0.0.2:8000', 'b-rank-1 10.0.0.2:8001 10.0.0.2:8001',
    ]);
    expect(specs[2]).toMatchObject({ namespace: 'llm', labels: { 'llm-d.ai/role': 'decode' } });
  });

  it('the active-ports annotation restricts the ports, keeping the rank of each port', () => {
    const specs = endpointsFromPool(state([
      podInfo({ name: 'a', annotations: { 'llm-d.ai/active-ports': '8001, 9999,junk' } }),
      podInfo({ name: 'b', annotations: { 'inference.networking.k8s.io/active-ports': '8000' } }),
      podInfo({ name: 'c', annotations: { 'llm-d.ai/active-ports': '' } }),
    ], [8000, 8001]));
    expect(specs.map((s) => s.name)).toEqual(['a-rank-1', 'b-rank-0']);
  });

  it('the deprecated metrics port applies only to single-port pools; IPv6 is bracketed', () => {
    expect(endpointsFromPool(state([podInfo({ name: 'a', ip: 'fd00::1' })]), { modelServerMetricsPort: 9100 })[0]?.metricsHost).toBe('[fd00::1]:9100');
    expect(endpointsFromPool(state([podInfo({ name: 'a' })], [8000, 8001]), { modelServerMetricsPort: 9100 }).map((s) => s.metricsHost)).toEqual(['10.0.0.1:8000', '10.0.0.1:8001']);
  });

  it('nothing when not synced or without a pool', () => {
    expect(endpointsFromPool({ synced: false, pods: [podInfo({ name: 'a' })] })).toEqual([]);
    expect(endpointsFromPool({ synced: true, pods: [podInfo({ name: 'a' })], problem: 'not found' })).toEqual([]);
  });
});

const PD_CONFIG = `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: prefix-cache-scorer
- type: queue-scorer
- type: prefill-filter
- type: decode-filter
- type: max-score-picker
- type: prefix-based-pd-decider
  parameters: {nonCachedTokens: 16}
- type: disagg-profile-handler
  parameters: {deciders: {prefill: prefix-based-pd-decider}}
schedulingProfiles:
- name: prefill
  plugins: [{pluginRef: prefill-filter}, {pluginRef: max-score-picker}, {pluginRef: prefix-cache-scorer, weight: 2}, {pluginRef: queue-scorer}]
- name: decode
  plugins: [{pluginRef: decode-filter}, {pluginRef: max-score-picker}, {pluginRef: prefix-cache-scorer, weight: 2}, {pluginRef: queue-scorer}]
`;

describe('PoolSource against a real API server', () => {
  const kube = useFakeKubeApi();
  const sources: PoolSource[] = [];
  afterEach(() => {
    for (const source of sources.splice(0)) source.close();
  });

  async function discover(name: string, group: typeof POOL_GROUP_V1 | typeof POOL_GROUP_V1ALPHA2 = POOL_GROUP_V1) {
    const store = new EndpointStore();
    const source = await createPoolSource({ pool: { namespace: 'llm', name, group }, kubeconfig: kube.kubeconfig, store, logger: silentLogger, backoff: TEST_BACKOFF });
    sources.push(source);
    const loaded = loadEndpointPickerConfig(PD_CONFIG, { registry: createDefaultRegistry(), logger: silentLogger, endpoints: () => store.list() });
    const director = new Director({
      scheduler: loaded.scheduler, endpoints: () => store.list(), synced: () => store.synced,
      producers: loaded.producers, preRequests: loaded.preRequests, responseCompletes: loaded.responseCompletes, logger: silentLogger,
    });
    const names = (): string => store.list().map((e) => e.name).sort().join(',');
    return { store, source, director, names };
  }

  const longPrompt = 'Summarise the history of distributed inference in great detail, please. '.repeat(20);

  it('schedules P/D over discovered pods (v1 pool) and follows readiness, IP changes and deletions', async () => {
    const labels = (role: string) => ({ app: 'pd', 'llm-d.ai/role': role });
    kube.api.apply(poolV1('pd', { app: 'pd' }, [8000]));
    kube.api.apply(pod({ name: 'prefill-0', ip: '127.0.0.2', labels: labels('prefill') }));
    kube.api.apply(pod({ name: 'decode-0', ip: '127.0.0.3', labels: labels('decode') }));
    const { store, source, director, names } = await discover('pd');
    expect(store.synced).toBe(false);
    source.start();
    await waitFor('both pods discovered', () => names() === 'decode-0-rank-0,prefill-0-rank-0');
    expect(store.synced).toBe(true);
    expect(store.get('decode-0-rank-0')?.labels['llm-d.ai/role']).toBe('decode');

    const decision = await director.handleRequest(chatRequest(longPrompt));
    expect(decision.destination).toBe('127.0.0.3:8000');
    expect(decision.request.headers.get(PREFILL_HEADER)).toBe('127.0.0.2:8000');

    kube.api.apply(pod({ name: 'decode-0', ip: '127.0.0.3', labels: labels('decode'), ready: false }));
    await waitFor('NotReady decode pod leaves', () => names() === 'prefill-0-rank-0');
    kube.api.apply(pod({ name: 'decode-0', ip: '127.0.0.4', labels: labels('decode') }));
    await waitFor('back with a new IP', () => store.get('decode-0-rank-0')?.address === '127.0.0.4');
    kube.api.apply(pod({ name: 'decode-1', ip: '127.0.0.5', labels: labels('decode') }));
    await waitFor('new pod joins', () => names() === 'decode-0-rank-0,decode-1-rank-0,prefill-0-rank-0');
    kube.api.remove('v1', 'Pod', 'llm', 'prefill-0');
    await waitFor('deleted pod leaves', () => names() === 'decode-0-rank-0,decode-1-rank-0');
  });

  it('a v1alpha2 pool works the same', async () => {
    kube.api.apply(poolV1alpha2('alpha', { app: 'alpha' }, 8200));
    kube.api.apply(pod({ name: 'alpha-0', ip: '127.0.0.6', labels: { app: 'alpha', 'llm-d.ai/role': 'both' } }));
    const { store, source, names } = await discover('alpha', POOL_GROUP_V1ALPHA2);
    source.start();
    await waitFor('discovered', () => names() === 'alpha-0-rank-0');
    expect(store.list()[0]?.hostPort).toBe('127.0.0.6:8200');
  });

  it('pool deleted → empty and not synced (503 "not discovered yet"); missing pool likewise', async () => {
    kube.api.apply(poolV1('short-lived', { app: 'sl' }, [8000]));
    kube.api.apply(pod({ name: 'sl-0', ip: '127.0.0.2', labels: { app: 'sl', 'llm-d.ai/role': 'decode' } }));
    const { store, source, director, names } = await discover('short-lived');
    source.start();
    await waitFor('discovered', () => names() === 'sl-0-rank-0');
    kube.api.remove('inference.networking.k8s.io/v1', 'InferencePool', 'llm', 'short-lived');
    await waitFor('emptied', () => !store.synced && store.list().length === 0);
    expect(source.problem).toMatch(/InferencePool llm\/short-lived .* not found/);
    const error = await director.handleRequest(chatRequest('hi')).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(SchedulingError);
    expect((error as SchedulingError).status).toBe(503);
    expect((error as Error).message).toMatch(/not been discovered yet/);
  });

  it('an existing pool with no ready pods → synced but empty (503 "no model-server endpoints")', async () => {
    kube.api.apply(poolV1('idle', { app: 'idle' }, [8000]));
    kube.api.apply(pod({ name: 'idle-0', ip: '127.0.0.2', labels: { app: 'idle' }, ready: false }));
    const { store, source, director } = await discover('idle');
    source.start();
    await waitFor('synced', () => store.synced);
    const error = await director.handleRequest(chatRequest('hi')).catch((err: unknown) => err);
    expect((error as SchedulingError).status).toBe(503);
    expect((error as Error).message).toMatch(/no model-server endpoints/);
  });

  it('keeps the last good set through an API-server outage', async () => {
    kube.api.apply(poolV1('steady', { app: 'steady' }, [8000]));
    kube.api.apply(pod({ name: 'st-0', ip: '127.0.0.2', labels: { app: 'steady' } }));
    const { store, source, names } = await discover('steady');
    source.start();
    await waitFor('discovered', () => names() === 'st-0-rank-0');
    await kube.api.stop();
    kube.api.apply(pod({ name: 'st-1', ip: '127.0.0.3', labels: { app: 'steady' } }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(store.synced).toBe(true);
    expect(names()).toBe('st-0-rank-0');
    await kube.api.restart();
    await waitFor('converged', () => names() === 'st-0-rank-0,st-1-rank-0');
  });

  it('two EPP replicas with leader election: both discover, only the leader is serving; closing it hands over', async () => {
    kube.api.apply(poolV1('ha', { app: 'ha' }, [8000]));
    kube.api.apply(pod({ name: 'ha-0', ip: '127.0.0.2', labels: { app: 'ha' } }));
    const config = poolDiscoveryConfig({ poolName: 'ha', poolNamespace: 'llm', kubeconfig: kube.kubeconfig, haEnableLeaderElection: true });
    const leaseTimings = { leaseDurationMs: 2_000, renewDeadlineMs: 1_000, retryPeriodMs: 150 };
    const replicas = await Promise.all([0, 1].map(async () => {
      const store = new EndpointStore();
      const discovery = await startKubernetesDiscovery({ config, store, logger: silentLogger, backoff: TEST_BACKOFF, leaseTimings });
      return { store, discovery };
    }));
    try {
      await waitFor('both synced', () => replicas.every((r) => r.store.list().length === 1));
      const leader = await waitFor('one leader', () => replicas.find((r) => r.discovery.isServing()));
      expect(replicas.filter((r) => r.discovery.isServing())).toHaveLength(1);
      expect(kube.api.get('coordination.k8s.io/v1', 'Lease', 'llm', 'epp-llm-ha.llm-d.ai')).toBeDefined();
      const follower = replicas.find((r) => r !== leader)!;
      expect(follower.discovery.isLeader()).toBe(false);
      await leader.discovery.close();
      await waitFor('the follower serves', () => follower.discovery.isServing());
    } finally {
      await Promise.all(replicas.map((r) => r.discovery.close()));
    }
  });
});
