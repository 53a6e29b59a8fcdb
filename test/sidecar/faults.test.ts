/**
 * Fault injection on every P/D leg, against real sockets: what the client gets, and that no
 * upstream leg is left open afterwards (each fake records when its request's connection ends).
 */
import net from 'node:net';
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { DECODE_SSE, PREFILL_ANSWER, sendJson, startFakeVllm, type FakeVllm } from './helpers/fake-vllm.js';
import { post, startTestSidecar, type TestSidecar } from './helpers/sidecar.js';

let prefiller: FakeVllm | undefined;
let decoder: FakeVllm | undefined;
let sidecar: TestSidecar | undefined;

afterEach(async () => {
  await sidecar?.close(0);
  await prefiller?.close();
  await decoder?.close();
  sidecar = prefiller = decoder = undefined;
});

const CHAT = { model: 'm', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 5 };

/** A port that refuses connections (bound, then closed). */
async function refusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

type Handler = (res: ServerResponse) => void;
const ok: Handler = (res) => sendJson(res, 200, PREFILL_ANSWER);
const decodeOk: Handler = (res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.end(DECODE_SSE);
};

const prefillFaults: Array<[string, Handler | 'refused', number]> = [
  ['refused', 'refused', 502],
  ['500', (res) => sendJson(res, 500, { error: 'boom' }), 500],
  ['bad JSON', (res) => sendJson(res, 200, '{"kv_transfer_params":'), 502],
  ['oversized', (res) => sendJson(res, 200, `{"pad":"${'x'.repeat(300_000)}"}`), 502],
  ['closes mid-body', (res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': 1000 });
    res.write('{"kv_transfer_params":');
    setTimeout(() => res.destroy(), 20);
  }, 502],
  ['times out', () => undefined, 504],
];

describe('prefill leg faults', () => {
  it.each(prefillFaults.map(([name, handler, status]) => ({ name, handler, status })))('prefill $name → $status, no decode, no leg left open', async ({ handler, status }) => {
    decoder = await startFakeVllm((_r, res) => decodeOk(res));
    let target: string;
    if (handler === 'refused') {
      target = `127.0.0.1:${await refusedPort()}`;
    } else {
      prefiller = await startFakeVllm((_r, res) => handler(res));
      target = prefiller.hostPort;
    }
    sidecar = await startTestSidecar(decoder.port, { prefillTimeoutMs: 300, maxPrefillAnswerBytes: 100_000 });
    const answer = await post(`${sidecar.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': target });
    expect(answer.status).toBe(status);
    expect(answer.json()).toHaveProperty('error');
    expect(decoder.requests).toHaveLength(0);
    if (prefiller) {
      expect(prefiller.requests).toHaveLength(1);
      await prefiller.requests[0]!.closed;
    }
    const line = sidecar.logs.find((l) => l.msg === 'request');
    expect(line).toMatchObject({ mode: 'pd', status });
  });
});

describe('decode leg faults', () => {
  it('decoder refused → 503 "not ready"', async () => {
    prefiller = await startFakeVllm((_r, res) => ok(res));
    sidecar = await startTestSidecar(await refusedPort());
    const answer = await post(`${sidecar.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(503);
    expect(answer.json()).toMatchObject({ error: { type: 'ServiceUnavailable' } });
  });

  it('decoder 500 → relayed 500', async () => {
    prefiller = await startFakeVllm((_r, res) => ok(res));
    decoder = await startFakeVllm((_r, res) => sendJson(res, 500, { error: { message: 'engine dead' } }));
    sidecar = await startTestSidecar(decoder.port);
    const answer = await post(`${sidecar.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(500);
    expect(answer.text).toContain('engine dead');
    await decoder.requests[0]!.closed;
  });

  it('decoder closes mid-stream → the client connection is cut (never a clean end)', async () => {
    prefiller = await startFakeVllm((_r, res) => ok(res));
    decoder = await startFakeVllm((_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"choices":[{"delta":{"content":"he"}}]}\n\n');
      setTimeout(() => res.destroy(), 20);
    });
    sidecar = await startTestSidecar(decoder.port);
    const answer = await request(`${sidecar.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-prefiller-host-port': prefiller.hostPort }, body: JSON.stringify({ ...CHAT, stream: true }),
    });
    expect(answer.statusCode).toBe(200);
    await expect(answer.body.text()).rejects.toThrow();
    expect(await decoder.requests[0]!.closed).toBe('aborted');
  });

  it('a client that leaves mid-stream cancels the decode leg', async () => {
    prefiller = await startFakeVllm((_r, res) => ok(res));
    decoder = await startFakeVllm((_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"choices":[{"delta":{"content":"he"}}]}\n\n');
    });
    sidecar = await startTestSidecar(decoder.port);
    const abort = new AbortController();
    const answer = await request(`${sidecar.url}/v1/chat/completions`, {
      method: 'POST', signal: abort.signal, headers: { 'content-type': 'application/json', 'x-prefiller-host-port': prefiller.hostPort }, body: JSON.stringify({ ...CHAT, stream: true }),
    });
    expect(answer.statusCode).toBe(200);
    abort.abort();
    expect(await decoder.requests[0]!.closed).toBe('aborted');
  });
});
