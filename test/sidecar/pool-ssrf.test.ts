/**
 * `pd-router sidecar --enable-ssrf-protection --inference-pool ns/name` as a real process: the
 * InferencePool's pods (from a real Kubernetes API server over HTTPS) are the only prefill targets
 * it will talk to; anything else gets 403 with no request sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeKubeApiServer } from '../helpers/fake-kube-apiserver.js';
import { startCli, type RunningProcess } from '../helpers/processes.js';
import { pod, poolV1, tempDir } from '../k8s/fixtures.js';

describe('sidecar SSRF allowlist from an InferencePool', () => {
  let api: FakeKubeApiServer;
  let cleanup: () => void;
  const processes: RunningProcess[] = [];
  let sidecar: RunningProcess;
  let prefill: RunningProcess;

  beforeAll(async () => {
    api = await FakeKubeApiServer.start();
    const tmp = tempDir();
    cleanup = tmp.cleanup;
    const kubeconfig = api.writeKubeconfig(tmp.dir);
    const sim = (role: string) => startCli(['sim', '--port', '0', '--host', '127.0.0.1', '--model', 'm', '--role', role]);
    [prefill] = await Promise.all([sim('prefill')]);
    const decode = await sim('decode');
    processes.push(prefill, decode);
    api.apply(poolV1('pd-pool', { app: 'vllm' }, [8000]));
    api.apply(pod({ name: 'prefill-0', ip: '127.0.0.1', labels: { app: 'vllm', 'llm-d.ai/role': 'prefill' } }));
    sidecar = await startCli(['sidecar', '--port=0', '--host=127.0.0.1', `--vllm-port=${decode.port}`, '--vllm-host=127.0.0.1', '--secure-proxy=false',
      '--enable-ssrf-protection', '--inference-pool=llm/pd-pool'], { env: { KUBECONFIG: kubeconfig } });
    processes.push(sidecar);
  });
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await api?.close();
    cleanup?.();
  });

  const send = (prefillTarget: string) => fetch(`${sidecar.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-prefiller-host-port': prefillTarget },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hello there' }], max_tokens: 2 }),
  });

  it('hands off to a prefill target that is a pool pod (by IP or by name)', async () => {
    const response = await send(`127.0.0.1:${prefill.port}`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { choices: unknown[] }).choices).toHaveLength(1);
  });

  it('refuses targets outside the pool with 403 and sends nothing', async () => {
    const response = await send('169.254.169.254:80');
    expect(response.status).toBe(403);
    expect(await response.text()).toBe('Forbidden: prefill target not allowed by SSRF protection\n');
  });

  it('follows the pool: a pod that leaves is no longer allowed', async () => {
    api.remove('v1', 'Pod', 'llm', 'prefill-0');
    const deadline = Date.now() + 10_000;
    let status = 200;
    while (Date.now() < deadline) {
      const response = await send(`127.0.0.1:${prefill.port}`);
      status = response.status;
      await response.text();
      if (status === 403) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(403);
  });
});
