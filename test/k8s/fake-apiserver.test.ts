/**
 * The test API server is a real one as far as clients can tell: kubectl (client-go, a second,
 * independent client) reads and changes it over HTTPS with the same kubeconfig, and the
 * PoolWatcher (@kubernetes/client-node) sees kubectl's changes through its watch.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeKubeApiServer } from '../helpers/fake-kube-apiserver.js';
import { loadKubeConfig } from '../../src/k8s/kubeconfig.js';
import { PoolWatcher } from '../../src/k8s/pool-watcher.js';
import { POOL_GROUP_V1 } from '../../src/k8s/pool-spec.js';
import { TEST_BACKOFF, pod, poolV1, silentLogger, tempDir, waitFor } from './fixtures.js';

function kubectlInstalled(): boolean {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!kubectlInstalled())('fake API server with kubectl as a second client', () => {
  let api: FakeKubeApiServer;
  let kubeconfig: string;
  let cleanup: () => void;

  beforeAll(async () => {
    api = await FakeKubeApiServer.start();
    const tmp = tempDir();
    cleanup = tmp.cleanup;
    kubeconfig = api.writeKubeconfig(tmp.dir);
  });
  afterAll(async () => {
    await api.close();
    cleanup();
  });

  // Async: the server runs in this process, so a blocking exec would deadlock it.
  const kubectl = async (...args: string[]): Promise<string> => (await promisify(execFile)('kubectl', ['--kubeconfig', kubeconfig, ...args], { timeout: 15_000 })).stdout;

  it('kubectl lists, creates and deletes; the PoolWatcher follows', async () => {
    api.apply(poolV1('shared', { app: 'shared' }, [8000]));
    api.apply(pod({ name: 'k-0', ip: '127.0.0.2', labels: { app: 'shared' } }));
    const list = JSON.parse(await kubectl('get', '--raw', '/api/v1/namespaces/llm/pods')) as { items: Array<{ metadata: { name: string } }>; metadata: { resourceVersion: string } };
    expect(list.items.map((item) => item.metadata.name)).toContain('k-0');
    expect(Number(list.metadata.resourceVersion)).toBeGreaterThan(0);

    const watcher = new PoolWatcher({ kubeConfig: loadKubeConfig({ kubeconfig }), pool: { namespace: 'llm', name: 'shared', group: POOL_GROUP_V1 }, logger: silentLogger, backoff: TEST_BACKOFF });
    try {
      watcher.start();
      await watcher.firstSync();
      expect(watcher.state.pods.map((p) => p.name)).toEqual(['k-0']);
      await kubectl('delete', '--raw', '/api/v1/namespaces/llm/pods/k-0');
      await waitFor('deletion by kubectl seen', () => watcher.state.pods.length === 0);
    } finally {
      watcher.close();
    }
  });

  it('rejects clients without the token (401), like an API server with authentication', async () => {
    const anonymous = join(dirname(kubeconfig), 'anonymous');
    writeFileSync(anonymous, readFileSync(kubeconfig, 'utf8').replace(/\n\s+token: .*/, '\n    username: nobody'));
    const failure = await promisify(execFile)('kubectl', ['--kubeconfig', anonymous, 'get', '--raw', '/api/v1/namespaces/llm/pods'], { timeout: 15_000 }).catch((err: unknown) => err);
    expect(String((failure as { stderr?: string }).stderr)).toMatch(/Unauthorized|provide credentials/);
  });
});
