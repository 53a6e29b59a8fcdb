/**
 * PoolWatcher with the real @kubernetes/client-node against a real (small) API server over HTTP:
 * both InferencePool generations, pod churn, selector changes, pool deletion, and API-server
 * outages — with and without the watch history surviving the restart.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadKubeConfig } from '../../src/k8s/kubeconfig.js';
import { PoolWatcher, type PoolState } from '../../src/k8s/pool-watcher.js';
import { POOL_GROUP_V1, POOL_GROUP_V1ALPHA2, type PoolGroup } from '../../src/k8s/pool-spec.js';
import { TEST_BACKOFF, pod, poolV1, poolV1alpha2, silentLogger, waitFor, useFakeKubeApi } from './fixtures.js';

const kube = useFakeKubeApi();
const watchers: PoolWatcher[] = [];

afterEach(() => {
  for (const watcher of watchers.splice(0)) watcher.close();
});

function watch(name: string, group: PoolGroup = POOL_GROUP_V1): PoolWatcher {
  const watcher = new PoolWatcher({ kubeConfig: loadKubeConfig({ kubeconfig: kube.kubeconfig }), pool: { namespace: 'llm', name, group }, logger: silentLogger, backoff: TEST_BACKOFF });
  watchers.push(watcher);
  watcher.start();
  return watcher;
}

const podNames = (state: PoolState): string[] => state.pods.map((p) => p.name).sort();

describe('PoolWatcher', () => {
  it('reads a v1 pool (matchLabels, targetPorts) and its pods', async () => {
    kube.api.apply(poolV1('v1pool', { app: 'v1' }, [8000, 8001]));
    kube.api.apply(pod({ name: 'a', ip: '127.0.0.2', labels: { app: 'v1', 'llm-d.ai/role': 'decode' } }));
    kube.api.apply(pod({ name: 'b', ip: '127.0.0.3', labels: { app: 'v1', 'llm-d.ai/role': 'prefill' }, ready: false }));
    kube.api.apply(pod({ name: 'other', ip: '127.0.0.9', labels: { app: 'else' } }));
    const watcher = watch('v1pool');
    await watcher.firstSync();
    const state = watcher.state;
    expect(state.synced).toBe(true);
    expect(state.pool).toMatchObject({ name: 'v1pool', namespace: 'llm', selector: { app: 'v1' }, targetPorts: [8000, 8001], appProtocol: 'http' });
    expect(podNames(state)).toEqual(['a', 'b']);
    expect(state.pods.find((p) => p.name === 'b')).toMatchObject({ ready: false, ip: '127.0.0.3', labels: { 'llm-d.ai/role': 'prefill' } });
  });

  it('reads a v1alpha2 pool (flat selector, targetPortNumber) from the x-k8s.io group only', async () => {
    kube.api.apply(poolV1alpha2('alpha', { app: 'alpha' }, 8200));
    kube.api.apply(pod({ name: 'alpha-0', ip: '127.0.0.4', labels: { app: 'alpha' } }));
    const alpha = watch('alpha', POOL_GROUP_V1ALPHA2);
    await alpha.firstSync();
    expect(alpha.state.pool).toMatchObject({ selector: { app: 'alpha' }, targetPorts: [8200] });
    expect(podNames(alpha.state)).toEqual(['alpha-0']);
    // The same name in the v1 group does not exist: synced, no pool, a clear problem.
    const v1 = watch('alpha', POOL_GROUP_V1);
    await v1.firstSync();
    expect(v1.state.pool).toBeUndefined();
    expect(v1.state.problem).toMatch(/InferencePool llm\/alpha \(inference\.networking\.k8s\.io\) not found/);
  });

  it('follows pods: readiness flaps, IP changes, deletions and new pods', async () => {
    kube.api.apply(poolV1('churn', { app: 'churn' }, [8000]));
    kube.api.apply(pod({ name: 'c0', ip: '127.0.0.2', labels: { app: 'churn' } }));
    const watcher = watch('churn');
    await watcher.firstSync();
    const find = (name: string) => () => watcher.state.pods.find((p) => p.name === name);

    kube.api.apply(pod({ name: 'c0', ip: '127.0.0.2', labels: { app: 'churn' }, ready: false }));
    await waitFor('c0 not ready', () => find('c0')()?.ready === false);
    kube.api.apply(pod({ name: 'c0', ip: '127.0.0.2', labels: { app: 'churn' } }));
    await waitFor('c0 ready again', () => find('c0')()?.ready);
    kube.api.apply(pod({ name: 'c0', ip: '127.0.0.5', labels: { app: 'churn' } }));
    await waitFor('c0 new IP', () => find('c0')()?.ip === '127.0.0.5');
    kube.api.apply(pod({ name: 'c1', ip: '127.0.0.6', labels: { app: 'churn' } }));
    await waitFor('c1 joins', find('c1'));
    kube.api.apply(pod({ name: 'c1', ip: '127.0.0.6', labels: { app: 'churn' }, deleting: true }));
    await waitFor('c1 terminating', () => find('c1')()?.deleting);
    kube.api.remove('v1', 'Pod', 'llm', 'c1');
    await waitFor('c1 gone', () => !find('c1')());
    // Relabelled out of the selector: the pod leaves (the server sends DELETED).
    kube.api.apply(pod({ name: 'c0', ip: '127.0.0.5', labels: { app: 'elsewhere' } }));
    await waitFor('c0 left the selector', () => watcher.state.pods.length === 0);
  });

  it('restarts the pod watch when the selector changes and tracks target ports', async () => {
    kube.api.apply(poolV1('sel', { app: 'sel-a' }, [8000]));
    kube.api.apply(pod({ name: 'sa', ip: '127.0.0.2', labels: { app: 'sel-a' } }));
    kube.api.apply(pod({ name: 'sb', ip: '127.0.0.3', labels: { app: 'sel-b' } }));
    const watcher = watch('sel');
    await watcher.firstSync();
    expect(podNames(watcher.state)).toEqual(['sa']);
    kube.api.apply(poolV1('sel', { app: 'sel-b' }, [8000, 8002]));
    await waitFor('pods of the new selector', () => podNames(watcher.state).join() === 'sb');
    expect(watcher.state.pool?.targetPorts).toEqual([8000, 8002]);
    // The new pod watch is live.
    kube.api.apply(pod({ name: 'sc', ip: '127.0.0.4', labels: { app: 'sel-b' } }));
    await waitFor('sc joins', () => podNames(watcher.state).join() === 'sb,sc');
  });

  it('pool deletion empties the state; re-creation brings the pods back', async () => {
    kube.api.apply(poolV1('gone', { app: 'gone' }, [8000]));
    kube.api.apply(pod({ name: 'g0', ip: '127.0.0.2', labels: { app: 'gone' } }));
    const watcher = watch('gone');
    await watcher.firstSync();
    expect(podNames(watcher.state)).toEqual(['g0']);
    kube.api.remove('inference.networking.k8s.io/v1', 'InferencePool', 'llm', 'gone');
    await waitFor('pool gone', () => watcher.state.pool === undefined);
    expect(watcher.state.pods).toEqual([]);
    expect(watcher.state.problem).toMatch(/not found/);
    kube.api.apply(poolV1('gone', { app: 'gone' }, [8000]));
    await waitFor('pool back with its pods', () => watcher.state.synced && podNames(watcher.state).join() === 'g0');
  });

  it('an invalid pool (empty selector) yields no pods and says why', async () => {
    kube.api.apply(poolV1('bad', {}, [8000]));
    const watcher = watch('bad');
    await watcher.firstSync();
    expect(watcher.state.pool).toBeUndefined();
    expect(watcher.state.problem).toMatch(/selector is empty \(spec\.selector\.matchLabels\)/);
  });

  it('missing RBAC keeps it unsynced and retrying; granting it lets it sync', async () => {
    kube.api.apply(poolV1('rbac', { app: 'rbac' }, [8000]));
    kube.api.forbid('pods');
    try {
      const watcher = watch('rbac');
      await waitFor('pool seen', () => watcher.state.pool !== undefined);
      expect(watcher.state.synced).toBe(false);
      expect(watcher.state.problem).toMatch(/pods of InferencePool llm\/rbac have not been listed/);
      kube.api.forbid('pods', false);
      await watcher.firstSync();
      expect(watcher.state.synced).toBe(true);
    } finally {
      kube.api.forbid('pods', false);
    }
  });

  it('re-watches when the server ends its watches (server-side timeout) without missing events', async () => {
    kube.api.apply(poolV1('rewatch', { app: 'rewatch' }, [8000]));
    const watcher = watch('rewatch');
    await watcher.firstSync();
    await waitFor('pool and pod watches open', () => kube.api.watchCount >= 2);
    expect(kube.api.endWatches()).toBeGreaterThanOrEqual(2);
    kube.api.apply(pod({ name: 'rw-0', ip: '127.0.0.2', labels: { app: 'rewatch' } }));
    await waitFor('event after the re-watch', () => watcher.state.pods.length === 1);
    expect(watcher.state.synced).toBe(true);
  });

  for (const compacted of [false, true]) {
    it(`survives an API-server restart (${compacted ? 'history compacted → relist' : 'watch resumes from its resourceVersion'})`, async () => {
      const name = compacted ? 'outage-b' : 'outage-a';
      const labels = { app: name };
      kube.api.apply(poolV1(name, labels, [8000]));
      kube.api.apply(pod({ name: `${name}-0`, ip: '127.0.0.2', labels }));
      kube.api.apply(pod({ name: `${name}-1`, ip: '127.0.0.3', labels }));
      const watcher = watch(name);
      await watcher.firstSync();
      const changes: PoolState[] = [];
      watcher.onChange((state) => changes.push(state));

      await kube.api.stop();
      kube.api.remove('v1', 'Pod', 'llm', `${name}-0`);
      kube.api.apply(pod({ name: `${name}-1`, ip: '127.0.0.7', labels }));
      kube.api.apply(pod({ name: `${name}-2`, ip: '127.0.0.8', labels }));
      if (compacted) kube.api.compact();
      // While the server is down the last good set stays.
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(watcher.state.synced).toBe(true);
      expect(podNames(watcher.state)).toEqual([`${name}-0`, `${name}-1`]);
      expect(changes.every((state) => state.pods.length === 2)).toBe(true);

      const podLists = (): number => kube.api.requests.filter((r) => r.startsWith(`GET /api/v1/namespaces/llm/pods?labelSelector=app%3D${name}`) && !r.includes('watch=')).length;
      const listsBefore = podLists();
      await kube.api.restart();
      await waitFor('converged after the restart', () => podNames(watcher.state).join() === `${name}-1,${name}-2`);
      expect(watcher.state.pods.find((p) => p.name === `${name}-1`)?.ip).toBe('127.0.0.7');
      // Resuming replays the missed events; an expired version (410) forces a relist.
      expect(podLists() - listsBefore).toBe(compacted ? 1 : 0);
      // Still live afterwards.
      kube.api.apply(pod({ name: `${name}-3`, ip: '127.0.0.9', labels }));
      await waitFor('live after the restart', () => watcher.state.pods.length === 3);
    });
  }

  it('close() stops every watch: no more requests reach the server', async () => {
    kube.api.apply(poolV1('closing', { app: 'closing' }, [8000]));
    const watcher = watch('closing');
    await watcher.firstSync();
    watcher.close();
    await expect(watcher.firstSync()).resolves.toBeUndefined();
    const before = kube.api.requests.length;
    kube.api.apply(pod({ name: 'late', ip: '127.0.0.2', labels: { app: 'closing' } }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(kube.api.requests.length).toBe(before);
    expect(watcher.state.pods).toEqual([]);
  });
});
