/** Data parallel: listeners on port+i in front of vllm-port+i; x-data-parallel-host-port on the primary. */
import { afterEach, describe, expect, it } from 'vitest';
import { PREFILL_ANSWER, freeConsecutivePorts, sendJson, startConsecutiveFakes, startFakeVllm, type FakeVllm } from './helpers/fake-vllm.js';
import { post, startTestSidecar, type TestSidecar } from './helpers/sidecar.js';

let decoders: FakeVllm[] = [];
let sidecar: TestSidecar | undefined;

afterEach(async () => {
  await sidecar?.close(0);
  sidecar = undefined;
  await Promise.all(decoders.map((decoder) => decoder.close()));
});

describe('data-parallel-size=2', () => {
  async function setup(): Promise<number> {
    decoders = await startConsecutiveFakes(2, (rank) => (_r, res) => sendJson(res, 200, { rank }));
    const port = await freeConsecutivePorts(2);
    sidecar = await startTestSidecar(decoders[0]!.port, { port, dataParallelSize: 2, podIp: '10.0.0.5' });
    return port;
  }

  it('opens one listener per rank, each in front of its own vLLM', async () => {
    const port = await setup();
    expect(sidecar!.urls).toEqual([`http://127.0.0.1:${port}`, `http://127.0.0.1:${port + 1}`]);
    expect(sidecar!.logs.filter((l) => l.msg === 'listening')).toHaveLength(2);
    expect((await post(`${sidecar!.urls[1]!}/v1/chat/completions`, { model: 'm' })).json()).toEqual({ rank: 1 });
    expect((await post(`${sidecar!.urls[0]!}/v1/chat/completions`, { model: 'm' })).json()).toEqual({ rank: 0 });
  });

  it('routes by x-data-parallel-host-port on the primary listener: none → rank 0, POD_IP:port+1 → rank 1', async () => {
    const port = await setup();
    expect((await post(`${sidecar!.url}/v1/chat/completions`, { model: 'm' })).json()).toEqual({ rank: 0 });
    expect((await post(`${sidecar!.url}/v1/chat/completions`, { model: 'm' }, { 'x-data-parallel-host-port': `10.0.0.5:${port}` })).json()).toEqual({ rank: 0 });
    expect((await post(`${sidecar!.url}/v1/chat/completions`, { model: 'm' }, { 'x-data-parallel-host-port': `10.0.0.5:${port + 1}` })).json()).toEqual({ rank: 1 });
    expect(sidecar!.logs.some((l) => l.msg === 'The use of the x-data-parallel-host-port is deprecated. Use Istio >= 1.28.1.')).toBe(true);
  });

  it('answers 400 with an empty body for an unknown rank', async () => {
    await setup();
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, { model: 'm' }, { 'x-data-parallel-host-port': '10.9.9.9:1' });
    expect(answer.status).toBe(400);
    expect(answer.text).toBe('');
    expect(decoders.every((decoder) => decoder.requests.length === 0)).toBe(true);
  });

  it('ignores the header on the other ranks and on pass-through routes', async () => {
    const port = await setup();
    expect((await post(`${sidecar!.urls[1]!}/v1/chat/completions`, { model: 'm' }, { 'x-data-parallel-host-port': `10.0.0.5:${port}` })).json()).toEqual({ rank: 1 });
    expect((await post(`${sidecar!.url}/v1/embeddings`, { input: 'x' }, { 'x-data-parallel-host-port': `10.0.0.5:${port + 1}` })).json()).toEqual({ rank: 0 });
  });

  it('routes the nixlv2 decode leg to the named rank', async () => {
    const port = await setup();
    const prefiller = await startFakeVllm((_r, res) => sendJson(res, 200, PREFILL_ANSWER));
    try {
      const answer = await post(`${sidecar!.url}/v1/chat/completions`, { model: 'm' }, { 'x-prefiller-host-port': prefiller.hostPort, 'x-data-parallel-host-port': `10.0.0.5:${port + 1}` });
      expect(answer.json()).toMatchObject({ rank: 1 });
      expect(prefiller.requests).toHaveLength(1);
      expect(decoders[1]!.requests[0]!.json!.kv_transfer_params).toMatchObject({ remote_engine_id: '5b5fb28f-3f30-4bdd-9a36-958d52459200' });
    } finally {
      await prefiller.close();
    }
  });
});
