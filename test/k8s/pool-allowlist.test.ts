/** The sidecar's SSRF allowlist from an InferencePool, against a real API server over HTTP. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TargetAllowlist } from '../../sidecar/allowlist.js';
import { parseHostPort } from '../../src/wire/host-port.js';
import { loadKubeConfig } from '../../src/k8s/kubeconfig.js';
import { PoolAllowlist, createPoolAllowlist } from '../../src/k8s/pool-allowlist.js';
import { PoolWatcher } from '../../src/k8s/pool-watcher.js';
import { POOL_GROUP_V1, POOL_GROUP_V1ALPHA2, type PoolGroup } from '../../src/k8s/pool-spec.js';
import { TEST_BACKOFF, pod, poolV1, poolV1alpha2, silentLogger, waitFor, useFakeKubeApi } from './fixtures.js';

const kube = useFakeKubeApi();

/** The sidecar's path: a target is parsed strictly first; what does not parse is never allowed. */
function allowed(list: Pick<TargetAllowlist, 'isAllowed'>, value: string): boolean {
  const target = parseHostPort(value);
  return target !== undefined && list.isAllowed(target);
}
const lists: PoolAllowlist[] = [];
afterEach(() => {
  for (const list of lists.splice(0)) list.close();
});

function allowlist(name: string, group: PoolGroup = POOL_GROUP_V1): PoolAllowlist {
  const watcher = new PoolWatcher({ kubeConfig: loadKubeConfig({ kubeconfig: kube.kubeconfig }), pool: { namespace: 'llm', name, group }, logger: silentLogger, backoff: TEST_BACKOFF });
  const list = new PoolAllowlist({ watcher, logger: silentLogger });
  lists.push(list);
  return list;
}

describe('PoolAllowlist', () => {
  it('fits the sidecar TargetAllowlist interface', async () => {
    kube.api.apply(poolV1('shape', { app: 'shape' }, [8000]));
    const list: TargetAllowlist = allowlist('shape');
    expect(list.enabled).toBe(true);
    await list.start();
    expect(allowed(list, '10.1.1.1:8000')).toBe(false);
  });

  it('v1 (matchLabels): pod IPs and names, any port, readiness ignored; other values denied', async () => {
    kube.api.apply(poolV1('ssrf', { app: 'ssrf' }, [8000]));
    kube.api.apply(pod({ name: 'prefill-0', ip: '127.0.0.2', labels: { app: 'ssrf', 'llm-d.ai/role': 'prefill' } }));
    kube.api.apply(pod({ name: 'prefill-1', ip: '127.0.0.3', labels: { app: 'ssrf' }, ready: false }));
    kube.api.apply(pod({ name: 'pending', labels: { app: 'ssrf' } }));
    kube.api.apply(pod({ name: 'outsider', ip: '127.0.0.9', labels: { app: 'other' } }));
    const list = allowlist('ssrf');
    await list.start();
    expect([...list.allowed].sort()).toEqual(['127.0.0.2', '127.0.0.3', 'prefill-0', 'prefill-1']);
    for (const ok of ['127.0.0.2:8000', '127.0.0.2:9999', '127.0.0.3:8000', 'prefill-0:8000', 'PREFILL-1:1']) expect(allowed(list, ok), ok).toBe(true);
    for (const denied of ['127.0.0.9:8000', 'outsider:8000', 'pending:8000', 'http://127.0.0.2:8000', '169.254.169.254:80', 'localhost:8200']) {
      expect(allowed(list, denied), denied).toBe(false);
    }
  });

  it('v1alpha2 (flat selector)', async () => {
    kube.api.apply(poolV1alpha2('ssrf-alpha', { app: 'ssrf-alpha' }, 8000));
    kube.api.apply(pod({ name: 'a-0', ip: '127.0.0.4', labels: { app: 'ssrf-alpha' } }));
    const list = allowlist('ssrf-alpha', POOL_GROUP_V1ALPHA2);
    await list.start();
    expect(allowed(list, '127.0.0.4:8000')).toBe(true);
  });

  it('follows pods joining, changing IP and leaving, and keeps the set through an outage', async () => {
    kube.api.apply(poolV1('live', { app: 'live' }, [8000]));
    const list = allowlist('live');
    await list.start();
    expect(allowed(list, '127.0.0.5:8000')).toBe(false);
    kube.api.apply(pod({ name: 'l-0', ip: '127.0.0.5', labels: { app: 'live' } }));
    await waitFor('joined', () => allowed(list, '127.0.0.5:8000'));
    kube.api.apply(pod({ name: 'l-0', ip: '127.0.0.6', labels: { app: 'live' } }));
    await waitFor('new IP', () => allowed(list, '127.0.0.6:8000') && !allowed(list, '127.0.0.5:8000'));
    await kube.api.stop();
    kube.api.remove('v1', 'Pod', 'llm', 'l-0');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(allowed(list, 'l-0:8000')).toBe(true);
    await kube.api.restart();
    await waitFor('left after the restart', () => !allowed(list, 'l-0:8000'));
  });

  it('a missing pool completes the sync with nothing allowed (every target 403)', async () => {
    const list = allowlist('does-not-exist');
    await list.start();
    expect(list.allowed.size).toBe(0);
  });

  it('start() waits for the first sync (the listener must not open before)', async () => {
    kube.api.apply(poolV1('slow', { app: 'slow' }, [8000]));
    kube.api.apply(pod({ name: 's-0', ip: '127.0.0.7', labels: { app: 'slow' } }));
    kube.api.forbid('pods');
    try {
      const list = allowlist('slow');
      let started = false;
      const starting = list.start().then(() => {
        started = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(started).toBe(false);
      kube.api.forbid('pods', false);
      await starting;
      expect(allowed(list, '127.0.0.7:8000')).toBe(true);
    } finally {
      kube.api.forbid('pods', false);
    }
  });

  it('createPoolAllowlist builds it from flags (kube.kubeconfig, group)', async () => {
    kube.api.apply(poolV1('from-flags', { app: 'ff' }, [8000]));
    kube.api.apply(pod({ name: 'ff-0', ip: '127.0.0.8', labels: { app: 'ff' } }));
    const list = await createPoolAllowlist({ namespace: 'llm', name: 'from-flags', group: 'inference.networking.k8s.io', kubeconfig: kube.kubeconfig, logger: silentLogger });
    lists.push(list);
    await list.start();
    expect(allowed(list, 'ff-0:8000')).toBe(true);
    await expect(createPoolAllowlist({ namespace: 'llm', name: 'x', group: 'bogus', kubeconfig: kube.kubeconfig, logger: silentLogger })).rejects.toThrow(/--pool-group/);
  });

  it('compares canonical hosts: IPv6 spellings and case do not matter', () => {
    const list = new PoolAllowlist({ watcher: { state: { synced: true, pool: {}, pods: [{ name: 'Pod-A', ip: 'FD00:0:0::1' }] }, onChange: () => () => undefined, firstSync: async () => undefined, start: () => undefined, close: () => undefined } as never });
    void list.start();
    expect(allowed(list, '[fd00::1]:80')).toBe(true);
    expect(allowed(list, 'pod-a:1')).toBe(true);
    expect(allowed(list, 'http://pod-a:1')).toBe(false);
    expect(allowed(list, 'pod-a:1@127.0.0.1')).toBe(false);
  });
});
