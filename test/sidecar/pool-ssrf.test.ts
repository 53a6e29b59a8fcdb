/**
 * `pd-router sidecar --enable-ssrf-protection --inference-pool ns/name` as a real process: the
 * InferencePool's pods (from a real Kubernetes API server over HTTPS) are the only prefill targets
 * it will talk to; anything else gets 403 with no request sent.
 */
import { createConnection, createServer, type Server } from 'node:net';
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
  /** A listener outside the pool (127.0.0.2): it must never see a connection from the sidecar. */
  let trap: Server;
  let trapPort = 0;
  let trapConnections = 0;

  beforeAll(async () => {
    trap = createServer((socket) => { trapConnections++; socket.destroy(); });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.2', resolve));
    trapPort = (trap.address() as { port: number }).port;
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
    await new Promise((resolve) => trap?.close(resolve));
    cleanup?.();
  });

  const send = (prefillTarget: string) => fetch(`${sidecar.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-prefiller-host-port': prefillTarget },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hello there' }], max_tokens: 2 }),
  });

  it('hands off to a prefill target that is a pool pod, by IP', async () => {
    const response = await send(`127.0.0.1:${prefill.port}`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { choices: unknown[] }).choices).toHaveLength(1);
  });

  it('allows a pool pod by its name too (the name passes the allowlist; it just does not resolve here)', async () => {
    const byName = await send('prefill-0:8000');
    expect(byName.status).not.toBe(403);
    await byName.text();
    const stranger = await send('prefill-9:8000');
    expect(stranger.status).toBe(403);
    await stranger.text();
  });

  it('refuses targets outside the pool with 403 and sends nothing', async () => {
    // Positive control: the trap does count a connection made to it.
    const probe = await fetch(`http://127.0.0.2:${trapPort}/`).catch(() => undefined);
    expect(probe).toBeUndefined();
    expect(trapConnections).toBe(1);
    const response = await send(`127.0.0.2:${trapPort}`);
    expect(response.status).toBe(403);
    expect(await response.text()).toBe('Forbidden: prefill target not allowed by SSRF protection\n');
    const metadata = await send('169.254.169.254:80');
    expect(metadata.status).toBe(403);
    await metadata.text();
    expect(trapConnections).toBe(1);
  });

  // A userinfo-shaped value names a pool pod to the check but would dial another host on port 80.
  // The pool allowlist goes through the same one parse: 400 for everyone; as root a trap on :80
  // also proves nothing connects.
  it('a pool pod as userinfo never reaches the host after the @', async () => {
    const evil = `127.0.${Math.floor(Math.random() * 200) + 20}.2`;
    const isRoot = process.getuid?.() === 0;
    let hits = 0;
    const trap80 = createServer((socket) => { hits++; socket.destroy(); });
    if (isRoot) await new Promise<void>((resolve, reject) => trap80.once('error', reject).listen(80, evil, resolve));
    try {
      for (const value of [`prefill-0:80@${evil}`, `127.0.0.1:${prefill.port}@${evil}`, `prefill-0:@${evil}`]) {
        const response = await send(value);
        expect(response.status, value).toBe(400);
        await response.text();
      }
      expect(hits).toBe(0);
      if (isRoot) {
        // Positive control: the trap on :80 does count a connection.
        await new Promise<void>((resolve) => createConnection(80, evil).on('close', () => resolve()).on('error', () => resolve()));
        expect(hits).toBe(1);
      }
    } finally {
      if (isRoot) await new Promise((resolve) => trap80.close(resolve));
    }
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
